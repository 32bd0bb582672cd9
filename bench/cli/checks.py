"""Checks of command-line input made before any data or model is loaded: each bad value is one
BenchError naming the flag and its fix."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from bench.api import limits
from bench.api.errors import BenchError
from bench.cli.common import split_list

if TYPE_CHECKING:
    import torch

    from bench.api.spec import RunSpec

Value = TypeVar("Value")


def flag_list(
    value: str, flag: str, example: str, convert: Callable[[str], Value], rule: limits.Rule | None = None
) -> list[Value]:
    """A comma-separated flag's items, each converted and (given a rule) checked; an empty list is refused."""
    items = split_list(value)
    if not items:
        raise BenchError(f"{flag} {value!r} lists nothing", f"write e.g. {flag} {example}")
    converted = []
    for item in items:
        try:
            converted.append(convert(item))
        except ValueError:
            raise BenchError(f"{flag}: {item!r} is not {rule[1] if rule else 'valid'}",
                             f"write e.g. {flag} {example}") from None
        if rule and not rule[0](converted[-1]):
            raise BenchError(f"{flag}: {item} is not {rule[1]}", f"write e.g. {flag} {example}")
    return converted


def check_overrides(overrides: dict[str, Any]) -> None:
    """--epochs, --batch-size and --lr, by the rules grid files' overrides follow."""
    examples = {"epochs": "10", "batch_size": "64", "lr": "1e-4"}
    for key, value in overrides.items():
        flag = f"--{key.replace('_', '-')}"
        if limits.override_problem(key, value):
            raise BenchError(f"{flag} {value} is not {limits.OVERRIDES[key][1]}", f"pass e.g. {flag} {examples[key]}")


def check_weights(weights_files: dict[str, str], specs: Sequence[RunSpec], scale: str) -> None:
    """--weights only for selected methods whose runs start from pretrained weights (a tiny model has none):
    a file no run reads is refused, not ignored. Whether the file exists is the runner's pre-flight."""
    for method in weights_files:
        inits = {spec.init for spec in specs if spec.method == method}
        if scale == "tiny":
            raise BenchError(f"--weights {method}=...: this profile's tiny models take no pretrained weights",
                             "pass --profile paper for the full-size pretrained models, or drop --weights")
        if not inits:
            selected = ", ".join(sorted({spec.method for spec in specs}))
            raise BenchError(f"--weights {method}=...: {method} is not among the selected methods ({selected})",
                             f"add {method} to --methods, or drop its --weights")
        if "pretrained" not in inits:
            raise BenchError(f"--weights {method}=...: its runs start from random init and would not read it",
                             "leave out --init random, or drop --weights")


def check_folder(path: Path, flag: str) -> None:
    """That ``path`` is, or can be made, a folder this process writes into; nothing is created."""
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise BenchError(f"{flag} {path}: {existing} is a file, not a folder",
                         f"pass {flag} a folder (new or existing)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BenchError(f"{flag} {path}: folder {existing} is not writable",
                         f"pass {flag} a folder you can write to, or fix its permissions")


def device(name: str, used: bool) -> torch.device:
    """The torch device ``--device`` names (auto: CUDA when there is a GPU); when ``used`` (cells will run
    on it), checked to be on this machine."""
    import torch

    from bench.run.provenance import resolve_device

    fix = "pass --device cpu, or --device auto (a GPU when there is one)"
    try:
        chosen = resolve_device(name)
    except RuntimeError:
        raise BenchError(f"--device {name!r} is not a device name", f"{fix}; e.g. cuda:0") from None
    if not used or chosen.type == "cpu":
        return chosen
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise BenchError(f"--device {name}: this machine has no CUDA GPU", fix)
        if (count := torch.cuda.device_count()) <= (chosen.index or 0):
            raise BenchError(f"--device {name}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}",
                             fix)
        return chosen
    try:
        torch.empty(0, device=chosen)
    except (RuntimeError, AssertionError) as error:
        raise BenchError(f"--device {name} is not usable here ({str(error).splitlines()[0]})", fix) from None
    return chosen


def given(context: typer.Context, names: Iterable[str]) -> list[str]:
    """Those of the parameters ``names`` set on the command line (or by an environment variable)."""
    # By the source's name: typer ships its own copy of click, whose ParameterSource is not click's.
    sources = {name: getattr(context.get_parameter_source(name), "name", "DEFAULT") for name in names}
    return [name for name, source in sources.items() if source not in ("DEFAULT", "DEFAULT_MAP")]


def known(names: Collection[str], allowed: Collection[str], flag: str) -> None:
    """Every name among ``allowed``."""
    if unknown := [name for name in names if name not in allowed]:
        raise BenchError(f"unknown {flag} {', '.join(unknown)}", f"use {', '.join(allowed)} (comma-separated)")
