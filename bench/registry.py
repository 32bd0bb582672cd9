"""Method and dataset registries, filled from entry points so other packages can add their own.

A package adds a method with, in its pyproject.toml::

    [project.entry-points."bench.methods"]
    my-method = "my_package.module:MyMethod"

and a dataset with an entry point in ``bench.datasets`` naming a ``DatasetInfo``.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from bench.data.base import DataOptions, DatasetInfo, DatasetSplits
from bench.errors import BenchError
from bench.method import Method

METHOD_GROUP = "bench.methods"
DATASET_GROUP = "bench.datasets"
INSTALL_HINT = "reinstall the package (`pip install -e .`) so its entry points are registered"


def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def method_names() -> list[str]:
    return sorted(_entry_points(METHOD_GROUP))


def dataset_names() -> list[str]:
    return sorted(_entry_points(DATASET_GROUP))


def _unknown(kind: str, name: str, known: list[str]) -> BenchError:
    listed = ", ".join(known) if known else f"none registered: {INSTALL_HINT}"
    return BenchError(f"unknown {kind} {name!r}", f"choose one of: {listed} (see `bench list`)")


@cache
def method_class(name: str) -> type[Method]:
    points = _entry_points(METHOD_GROUP)
    if name not in points:
        raise _unknown("method", name, sorted(points))
    cls = points[name].load()
    if getattr(cls, "name", None) != name or not isinstance(cls(), Method):
        raise BenchError(
            f"entry point {name!r} ({points[name].value}) does not implement the Method protocol with name {name!r}",
            "give the class name/summary/variants and build, finetune, embed, predict (see bench/method.py)",
        )
    return cls


def create_method(name: str) -> Method:
    """A fresh instance of method ``name``; one instance serves one run."""
    return method_class(name)()


def dataset_info(name: str) -> DatasetInfo:
    base = name.split(":", 1)[0]
    points = _entry_points(DATASET_GROUP)
    if base not in points:
        raise _unknown("dataset", base, sorted(points))
    info = points[base].load()
    if not isinstance(info, DatasetInfo):
        raise BenchError(f"entry point {base!r} is not a DatasetInfo", "point it at a bench.data.base.DatasetInfo")
    return info


SYNTHETIC_DATASETS = ("demo", "demo_mnist")  # take ``:N``, the number of images per class


def dataset_options(name: str, options: DataOptions) -> DataOptions:
    """``options`` for dataset ``name``: ``demo:N`` / ``demo_mnist:N`` set N images per class."""
    base, _, argument = name.partition(":")
    if not argument:
        return options
    if base not in SYNTHETIC_DATASETS or not argument.isdigit() or int(argument) < 3:
        raise BenchError(
            f"dataset {name!r} takes no such argument",
            "only the synthetic sets take one: demo:N or demo_mnist:N with N >= 3",
        )
    return replace(options, demo_images_per_class=int(argument))


def load_dataset(name: str, options: DataOptions) -> DatasetSplits:
    """Load dataset ``name`` (``demo:N``: the synthetic demo set with N images per class)."""
    return dataset_info(name).load(dataset_options(name, options))
