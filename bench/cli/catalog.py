"""`bench list` and `bench grids`: what can be run."""

from __future__ import annotations

from bench.api import registry
from bench.api.profiles import PROFILES
from bench.cli.common import stdout, table


def list_command() -> None:
    """Show the registered methods, datasets, tasks and profiles."""
    methods = [registry.method_card(name) for name in registry.method_names()]
    rows = [[m.name, ", ".join(m.variants), m.summary] for m in methods]
    stdout.print(table("Methods", ["name", "variants", "summary"], rows))
    datasets = [registry.dataset_info(name) for name in registry.dataset_names()]
    stdout.print(table("Datasets", ["name", "summary"], [[d.name, d.summary] for d in datasets]))
    tasks = [[t.name, ", ".join(m.title for m in t.metrics), t.metric(t.main_metric).title, t.summary]
             for t in registry.tasks()]
    stdout.print(table("Tasks", ["name", "metrics", "main metric", "summary"], tasks))
    profiles = [[p.name, p.description] for p in PROFILES.values()]
    stdout.print(table("Profiles", ["name", "description"], profiles))


def grids_command() -> None:
    """List the shipped grids (run one with `bench run --grid NAME`).

    A grid file is TOML: a description, optional include = [grid names or paths], and [[cells]]
    blocks, each the cross product of its methods, datasets, variants, fractions, seeds (and tasks,
    adapt, options, overrides). The full format is in bench/grid/files.py.
    """
    from bench.grid import files as grids

    rows = []
    for name, path in sorted(grids.shipped().items()):
        grid = grids.load(str(path))
        rows.append([name, str(len(grid.specs("paper"))), grid.description])
    stdout.print(table("Shipped grids", ["name", "cells", "description"], rows))
