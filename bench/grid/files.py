"""Grid files: the paper's experiments (shipped here as TOML) or your own, as lists of RunSpecs.

A grid file::

    description = "one line, shown by `bench grids`"      # required
    include = ["table2", "my_other_grid.toml"]           # optional: shipped names, or paths relative to this file

    [[cells]]                                            # blocks; each is the cross product of its lists
    methods = ["resnet18", "vit16"]                      # required ("all": every registered method)
    datasets = ["galaxy10_decals", "galaxy_mnist"]       # required; under a profile each becomes its stand-in
    variants = ["full", "clip"]                          # optional; default: each method's default variant
    fractions = [0.1, 1.0]                               # optional; default [1.0]
    seeds = [0, 1, 2]                                    # optional; default [0]
    tasks = ["classify", "retrieve"]                     # optional; default both
    adapt = ["linear", "full"]                           # optional; one or a list of "full", "linear", "zoobot"
    options = { clip_tag = "laion2b_s34b_b88k" }         # optional; method-specific settings
    overrides = { epochs = 10 }                          # optional; training settings (FinetuneConfig fields)

Cells of the same run identity (every RunSpec field but ``tasks``) are one cell, whose tasks are
the union: one fine-tuned model serves every task, and is never trained twice.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from bench.api import limits, registry
from bench.api.errors import BenchError
from bench.api.method import ADAPTS, FinetuneConfig
from bench.api.profiles import Init, get_profile
from bench.api.spec import DEFAULT_TASKS, RunSpec
from bench.grid.expand import deduplicate, expand

FILE_KEYS = ("description", "include", "cells")
SCALAR = (str, int, float, bool)


@dataclass(frozen=True)
class Block:
    """One ``[[cells]]`` table of a grid file."""

    methods: tuple[str, ...]
    datasets: tuple[str, ...]
    variants: tuple[str, ...] = ()
    fractions: tuple[float, ...] = (1.0,)
    seeds: tuple[int, ...] = (0,)
    tasks: tuple[str, ...] = DEFAULT_TASKS
    adapts: tuple[str, ...] = ("full",)
    options: tuple[tuple[str, str], ...] = ()
    overrides: tuple[tuple[str, Any], ...] = ()


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


def _all(rule: limits.Rule) -> Callable[[Any], bool]:
    """Whether a value is a non-empty list of values that each satisfy ``rule``."""
    return lambda v: isinstance(v, list) and bool(v) and all(rule[0](x) for x in v)


# key -> (is the value valid, what a valid value looks like)
CELL_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "methods": (_strings, 'methods = ["resnet18", "vit16"]'),
    "datasets": (_strings, 'datasets = ["galaxy10_decals", "galaxy_mnist"]'),
    "variants": (_strings, 'variants = ["full", "clip"]'),
    "fractions": (_all(limits.FRACTION), f"fractions = [0.1, 1.0] (each {limits.FRACTION[1]})"),
    "seeds": (_all(limits.SEED), f"seeds = [0, 1, 2] (each {limits.SEED[1]})"),
    "tasks": (lambda v: _strings(v) and set(v) <= set(registry.task_names()), f"tasks = {registry.task_names()}"),
    "adapt": (
        lambda v: v in ADAPTS or (isinstance(v, list) and bool(v) and all(a in ADAPTS for a in v)),
        f'adapt = "full" or adapt = ["linear", "full"] (each one of {", ".join(ADAPTS)})',
    ),
    "options": (
        lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        'options = { clip_tag = "laion2b_s34b_b88k" } (string values)',
    ),
    "overrides": (
        lambda v: isinstance(v, dict)
        and set(v) <= {f.name for f in fields(FinetuneConfig)}
        and all(isinstance(x, SCALAR) and limits.override_problem(k, x) is None for k, x in v.items()),
        f"overrides = {{ epochs = 10 }} (keys among {', '.join(f.name for f in fields(FinetuneConfig))}; "
        + "; ".join(f"{key} {rule[1]}" for key, rule in limits.OVERRIDES.items()) + ")",
    ),
}
REQUIRED_CELL_KEYS = ("methods", "datasets")


@dataclass(frozen=True)
class Grid:
    """A loaded grid file, with its includes flattened into ``blocks``."""

    name: str
    description: str
    path: Path
    blocks: tuple[Block, ...]

    @property
    def is_shipped(self) -> bool:
        """Whether this is one of the paper's grids shipped with the package."""
        return self.path in shipped().values()

    def seeds_under(self, profile: str, all_seeds: bool = False) -> tuple[int, ...] | None:
        """The seeds every block runs under ``profile``: the profile's ``grid_seeds`` for a shipped grid
        unless ``all_seeds``; None (each block's own) otherwise."""
        return None if all_seeds or not self.is_shipped else get_profile(profile).grid_seeds

    def specs(
        self,
        profile: str,
        init: Init | None = None,
        overrides: dict[str, Any] | None = None,
        options: dict[str, str] | None = None,
        all_seeds: bool = False,
    ) -> list[RunSpec]:
        """Every cell under ``profile`` (datasets replaced by its stand-ins), deduplicated.

        ``init``, ``overrides`` and ``options`` (from the command line) apply to every cell, on
        top of the file's own. Seeds: see :meth:`seeds_under`.
        """
        stand_in = get_profile(profile).dataset_for
        seeds = self.seeds_under(profile, all_seeds)
        specs = []
        for number, block in enumerate(self.blocks):
            datasets = [stand_in(name) for name in block.datasets]
            try:
                for adapt in block.adapts:
                    specs += expand(
                        block.methods, datasets, block.fractions, seeds or block.seeds, block.variants, profile,
                        init, adapt, block.tasks,  # type: ignore[arg-type]
                        {**dict(block.overrides), **(overrides or {})}, {**dict(block.options), **(options or {})},
                    )
            except BenchError as error:
                raise BenchError(f"grid {self.path}, block {number + 1}: {error.problem}", error.fix) from None
        return deduplicate(specs)


def shipped() -> dict[str, Path]:
    """The grid files shipped with the package, by name."""
    folder = resources.files("bench.grid").joinpath("shipped")
    return {Path(entry.name).stem: Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".toml")}


def find(name_or_path: str, relative_to: Path | None = None) -> Path:
    """A shipped grid's file by name, or a grid file's path (relative to ``relative_to`` if given)."""
    path = (relative_to or Path()) / name_or_path
    if name_or_path.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise BenchError(f"grid file {path} does not exist", "check the path, or name a shipped grid")
        return path
    grids = shipped()
    if name_or_path not in grids:
        raise BenchError(
            f"no shipped grid {name_or_path!r}", f"use one of {', '.join(sorted(grids))} or a path to a .toml file"
        )
    return grids[name_or_path]


def load(name_or_path: str) -> Grid:
    """The grid a shipped name or a file path names, checked: a bad key fails with a one-line error."""
    return _load(find(name_or_path), ())


def _load(path: Path, including: Sequence[Path]) -> Grid:
    if path.resolve() in including:
        chain = " -> ".join(str(p) for p in (*including, path.resolve()))
        raise BenchError(f"grid files include each other in a cycle: {chain}", "remove one of the includes")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise BenchError(f"grid file {path} is not valid TOML: {error}", "fix the TOML syntax there") from None
    if unknown := sorted(set(data) - set(FILE_KEYS)):
        raise BenchError(f"grid file {path}: unknown key {unknown[0]!r}", f"use only {', '.join(FILE_KEYS)}")
    description = data.get("description")
    if not isinstance(description, str) or not description:
        raise BenchError(f"grid file {path}: 'description' is missing", 'add description = "what this grid is"')
    includes, cells = data.get("include", []), data.get("cells", [])
    if not _strings(includes) and includes != []:
        raise BenchError(f"grid file {path}: 'include' is not a list of grid names", 'write include = ["table2"]')
    if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
        raise BenchError(f"grid file {path}: 'cells' is not an array of tables", "write each block as [[cells]]")
    if not includes and not cells:
        raise BenchError(f"grid file {path} has no cells", "add a [[cells]] block or an include = [...]")
    blocks = [block for name in includes for block in _load(_include(path, name), (*including, path.resolve())).blocks]
    blocks += [_block(cell, f"grid file {path}, block {number + 1}") for number, cell in enumerate(cells)]
    return Grid(path.stem, description, path, tuple(blocks))


def _include(path: Path, name: str) -> Path:
    """The file that grid file ``path`` includes as ``name``."""
    try:
        return find(name, relative_to=path.parent)
    except BenchError as error:
        raise BenchError(f"grid file {path}, include {name!r}: {error.problem}", error.fix) from None


def _block(cell: dict[str, Any], where: str) -> Block:
    if unknown := sorted(set(cell) - set(CELL_KEYS)):
        raise BenchError(f"{where}: unknown key {unknown[0]!r}", f"use only {', '.join(CELL_KEYS)}")
    if missing := [key for key in REQUIRED_CELL_KEYS if key not in cell]:
        raise BenchError(f"{where}: {missing[0]!r} is missing", f"write e.g. {CELL_KEYS[missing[0]][1]}")
    for key, value in cell.items():
        valid, example = CELL_KEYS[key]
        if not valid(value):
            raise BenchError(f"{where}: {key} = {value!r} is not valid", f"write e.g. {example}")
    frozen: dict[str, Any] = {
        key: tuple(sorted(value.items())) if isinstance(value, dict) else tuple(value)
        for key, value in cell.items()
        if key != "adapt"
    }
    if "fractions" in frozen:
        frozen["fractions"] = tuple(float(f) for f in frozen["fractions"])
    adapt = cell.get("adapt", "full")
    return Block(adapts=(adapt,) if isinstance(adapt, str) else tuple(adapt), **frozen)
