"""GalaxAlign's own command, `bench symbols`, added to the CLI by an entry point (`bench search`, for every
text-embedding method, is in the core: bench/cli/search.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.api import registry
from bench.api.data import DataOptions
from bench.cli.common import DataDir, DataPath
from bench.io.progress import console


def symbols(
    dataset: Annotated[str, typer.Option(help="Dataset whose classes to draw.")] = "demo",
    out: Annotated[Path, typer.Option(help="PNG contact sheet to write.")] = Path("symbols.png"),
    per_class: Annotated[int, typer.Option(help="Symbols per class.")] = 8,
    data_dir: DataDir = None,
    data_path: DataPath = None,
) -> None:
    """Write a contact sheet of GalaxAlign's schematic symbols for every class of a dataset (no data needed
    when the dataset declares its classes)."""
    from methods.galaxalign.symbols import write_contact_sheet

    names = registry.dataset_info(dataset).class_names
    if names is None:  # a dataset whose classes only its data tells
        names = registry.load_dataset(dataset, DataOptions(data_dir=data_dir, path=data_path)).class_names
    console.print(f"wrote {write_contact_sheet(names, out, per_class=per_class)}")


def register(app: typer.Typer) -> None:
    """The ``bench.commands`` entry point: add GalaxAlign's commands to ``app``."""
    app.command("symbols")(symbols)
