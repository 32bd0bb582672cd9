"""`bench report` and `bench merge`: what a results directory becomes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.cli import checks
from bench.cli.common import DataDir, split_list
from bench.io.progress import console

FORMATS = ("md", "csv", "parquet", "json")  # md: the leaderboard and its figures; the rest: the long table


def report(
    results: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    out: Annotated[Path, typer.Option(help="Where the reports go.")] = Path("reports"),
    data_dir: DataDir = None,
    formats: Annotated[list[str], typer.Option("--format", help=(
        "md (leaderboard.md and its figures), or csv, parquet, json (results.<format>: one row per run and "
        "metric); repeatable or comma-separated."))] = ["md"],  # noqa: B006
) -> None:
    """Write reports/leaderboard.md (the paper's tables beside ours, every other run) and its figures, and/or
    every run's metrics as one long table; and reports/timings.json (each cell's measured wall time, which
    `bench run --dry-run` estimates from)."""
    from bench.grid.estimate import TIMINGS_FILE, write_timings
    from bench.report.export import results_table, write_results_table
    from bench.report.page import write_leaderboard
    from bench.run.store import ResultStore

    chosen = list(dict.fromkeys(name for value in formats for name in split_list(value)))
    checks.known(chosen, FORMATS, "--format")
    if results.exists() and not results.is_dir():
        raise BenchError(f"--results {results} is a file, not a results directory", "pass --results DIR")
    if not results.is_dir():
        raise BenchError(f"results directory {results} does not exist", "run `bench run` first or pass --results DIR")
    checks.check_folder(out, "--out")
    records = list(ResultStore(results).records())
    for name in chosen:
        if name == "md":
            path = write_leaderboard(records, results, out, DataOptions(data_dir=data_dir))
        else:
            path = write_results_table(results_table(records), out, name)
        console.print(f"wrote {path}")
    console.print(f"wrote {write_timings(records, out / TIMINGS_FILE)}")


def merge_command(
    sources: Annotated[list[Path], typer.Argument(help="Results directories to merge from.")],
    into: Annotated[Path, typer.Option(help="Results directory to merge into (created when missing).")],
) -> None:
    """Merge results directories (e.g. from several machines): of two records of one cell the successful,
    else the newer, is kept; every file is written atomically."""
    from bench.run.merge import merge

    checks.check_folder(into, "--into")
    report = merge(sources, into)  # says which source files it skipped, and why
    for path in report.conflicts:
        console.print(f"[yellow]conflict:[/] two different successful records of {path}; kept the newer",
                      soft_wrap=True)
    console.print(f"merged into {into}: {report.summary()}")
