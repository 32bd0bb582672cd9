"""The registries of methods, datasets, tasks and CLI commands, filled from entry points so that other
packages can add their own. A package adds one with, in its pyproject.toml::

    [project.entry-points."bench.methods"]
    my-method = "my_package.cards:MY_METHOD"     # a MethodCard (lazy), or the Method class itself

    [project.entry-points."bench.datasets"]
    my-data = "my_package.data:DATASET"          # a DatasetInfo (with its versions, if it has any)

    [project.entry-points."bench.tasks"]
    my-task = "my_package.tasks:TASK"            # a Task

    [project.entry-points."bench.commands"]
    my-package = "my_package.cli:register"       # register(app: typer.Typer) -> None

A MethodCard names its implementation, which is imported only when a run needs the method, so
listing, grid expansion and `--help` never import torch. What a method can do beyond the Method
protocol (save a model, embed text) are the capabilities of bench/api/capabilities.py, and
TrainsObjectives (hand over its training objectives) is in bench/train/loop.py; a plugin's own CLI
commands come through ``bench.commands``: its ``register`` adds them to the ``bench`` Typer app
(e.g. methods/galaxalign/cli.py).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import replace
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from bench.api.data import DataOptions, DatasetInfo, DatasetSplits
from bench.api.errors import BenchError
from bench.api.method import Method, MethodCard
from bench.api.task import Task

if TYPE_CHECKING:
    import typer

METHOD_GROUP = "bench.methods"
DATASET_GROUP = "bench.datasets"
TASK_GROUP = "bench.tasks"
COMMAND_GROUP = "bench.commands"
INSTALL_HINT = "reinstall the package (`pip install -e .`) so its entry points are registered"


def _entry_points(group: str) -> dict[str, EntryPoint]:
    return dict(_installed_points(group, tuple(sys.path)))


@cache
def _installed_points(group: str, path: tuple[str, ...]) -> tuple[tuple[str, EntryPoint], ...]:
    """The entry points of ``group`` installed on ``path``: read once per search path (reading every
    distribution's metadata costs ~20 ms, and a grid's planning asks thousands of times)."""
    return tuple((ep.name, ep) for ep in entry_points(group=group))


def _unknown(kind: str, name: str, known: list[str]) -> BenchError:
    listed = ", ".join(known) if known else f"none registered: {INSTALL_HINT}"
    return BenchError(f"unknown {kind} {name!r}", f"choose one of: {listed} (see `bench list`)")


def _load(group: str, kind: str, name: str) -> tuple[EntryPoint, Any]:
    points = _entry_points(group)
    if name not in points:
        raise _unknown(kind, name, sorted(points))
    try:
        return points[name], points[name].load()
    except (ImportError, AttributeError) as error:
        raise BenchError(f"{kind} {name!r} ({points[name].value}) cannot be imported: {error}", INSTALL_HINT) from error


# Methods


def method_names() -> list[str]:
    return sorted(_entry_points(METHOD_GROUP))


@cache
def method_card(name: str) -> MethodCard:
    """What is known of method ``name`` without importing its implementation (when it has a card)."""
    point, loaded = _load(METHOD_GROUP, "method", name)
    if isinstance(loaded, MethodCard):
        card = loaded
    elif inspect.isclass(loaded):
        card = MethodCard(name, getattr(loaded, "summary", ""), tuple(getattr(loaded, "variants", ())), point.value)
    else:
        raise BenchError(f"entry point {name!r} ({point.value}) is neither a MethodCard nor a class",
                         "point it at a bench.api.method.MethodCard or a Method class")
    if card.name != name or not card.variants:
        raise BenchError(f"entry point {name!r} ({point.value}) declares name {card.name!r} and variants "
                         f"{card.variants}", f"give it name {name!r} and at least one variant")
    return card


@cache
def method_class(name: str) -> type[Method]:
    """The implementation of method ``name``, checked against the Method protocol."""
    card = method_card(name)
    module, _, attribute = card.implementation.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as error:
        raise BenchError(f"method {name!r}: cannot import {card.implementation}: {error}", INSTALL_HINT) from error
    if abstract := sorted(getattr(cls, "__abstractmethods__", ())):
        raise BenchError(f"method {name!r} ({card.implementation}) does not implement {', '.join(abstract)}",
                         "define them in the class (see bench/api/method.py)")
    if getattr(cls, "name", None) != name or not isinstance(cls(), Method):
        raise BenchError(
            f"entry point {name!r} ({card.implementation}) does not implement the Method protocol with name {name!r}",
            "give the class name/summary/variants and weights_spec, default_config, build, finetune, embed, predict "
            "(see bench/api/method.py)",
        )
    if tuple(cls.variants) != card.variants:
        raise BenchError(f"method {name!r}: its card lists variants {card.variants}, its class {cls.variants}",
                         "make the class take them from the card (bench.api.method.implements)")
    return cls


def methods_with(capability: type) -> list[str]:
    """The registered methods whose class has ``capability`` (a capability Protocol, see bench/api/capabilities.py),
    in name order; those that cannot be imported here are left out."""
    having = []
    for name in method_names():
        try:
            cls = method_class(name)
        except BenchError:
            continue
        if issubclass(cls, capability):
            having.append(name)
    return having


def create_method(name: str) -> Method:
    """A fresh instance of method ``name``; one instance serves one run."""
    return method_class(name)()


# Datasets


def _dataset_point(name: str) -> DatasetInfo:
    _, info = _load(DATASET_GROUP, "dataset", name)
    if not isinstance(info, DatasetInfo):
        raise BenchError(f"entry point {name!r} is not a DatasetInfo", "point it at a bench.api.data.DatasetInfo")
    return info


def _datasets() -> dict[str, DatasetInfo]:
    """Every registered dataset by name: each entry point's, and its versions (DatasetInfo.versions)."""
    infos = (_dataset_point(name) for name in sorted(_entry_points(DATASET_GROUP)))
    return {version.name: version for info in infos for version in (info, *info.versions)}


def dataset_names() -> list[str]:
    return sorted(_datasets())


def dataset_info(name: str) -> DatasetInfo:
    """Dataset ``name`` (``demo:N`` counts as ``demo``): an entry point's, or one of the versions it registers."""
    base = name.split(":", 1)[0]
    if base in _entry_points(DATASET_GROUP):
        return _dataset_point(base)
    datasets = _datasets()
    if base not in datasets:
        raise _unknown("dataset", base, sorted(datasets))
    return datasets[base]


def dataset_options(name: str, options: DataOptions) -> DataOptions:
    """``options`` for dataset ``name``: ``demo:N`` / ``demo_mnist:N`` (any synthetic set) set N images per class."""
    base, _, argument = name.partition(":")
    if not argument:
        return options
    if not dataset_info(base).synthetic or not argument.isdigit() or int(argument) < 3:
        raise BenchError(
            f"dataset {name!r} takes no such argument",
            "only the synthetic sets take one: demo:N or demo_mnist:N with N >= 3",
        )
    return replace(options, demo_images_per_class=int(argument))


def load_dataset(name: str, options: DataOptions) -> DatasetSplits:
    """Load dataset ``name`` (``demo:N``: the synthetic demo set with N images per class)."""
    return dataset_info(name).load(dataset_options(name, options))


# Tasks


def task_names() -> list[str]:
    return sorted(_entry_points(TASK_GROUP))


@cache
def task(name: str) -> Task:
    _, loaded = _load(TASK_GROUP, "task", name)
    if not isinstance(loaded, Task) or loaded.name != name:
        raise BenchError(f"entry point {name!r} is not a Task named {name!r}", "point it at a bench.api.task.Task")
    return loaded


def tasks() -> list[Task]:
    """Every registered task, in name order."""
    return [task(name) for name in task_names()]


def check_tasks(names: list[str] | tuple[str, ...]) -> None:
    """A BenchError naming the unknown ones, if any of ``names`` is not a registered task."""
    if unknown := sorted(set(names) - set(task_names())):
        raise BenchError(f"unknown tasks {unknown}", f"use some of {', '.join(task_names())} (see `bench list`)")


# CLI commands


def register_plugin_commands(app: typer.Typer) -> list[str]:
    """Let every ``bench.commands`` entry point add its commands to ``app``; one line per plugin that
    could not (the other commands still work)."""
    problems = []
    for name, point in sorted(_entry_points(COMMAND_GROUP).items()):
        try:
            point.load()(app)
        except (ImportError, AttributeError) as error:
            problems.append(str(BenchError(f"CLI plugin {name!r} ({point.value}) not loaded: {error}", INSTALL_HINT)))
    return problems
