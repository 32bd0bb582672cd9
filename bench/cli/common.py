"""What every command shares: the stdout console, shared options, flag parsing, rich tables."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from bench.api.errors import BenchError

# Options several commands take, declared once.
DataDir = Annotated[Optional[str], typer.Option(envvar="BENCH_DATA_DIR", help="Where dataset files are.")]
DataPath = Annotated[Optional[str], typer.Option(help="Explicit dataset file or folder.")]
WeightsDir = Annotated[Optional[str], typer.Option(envvar="BENCH_WEIGHTS_DIR", help="Weights directory.")]
OutsidePaths = Annotated[bool, typer.Option(
    "--allow-outside-paths", help="Let a folder dataset's CSV name images outside the CSV's folder.")]

# Tables go to stdout, full width even when piped to a file; progress and errors go to stderr.
stdout = Console(width=None if sys.stdout.isatty() else 200)


def split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_pairs(values: list[str], flag: str, example: str) -> dict[str, str]:
    """``KEY=VALUE`` flags as a dict."""
    pairs = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key or not setting:
            raise BenchError(f"{flag} {value!r} is not KEY=VALUE", f"write e.g. {flag} {example}")
        pairs[key] = setting
    return pairs


def table(title: str, headers: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    return table
