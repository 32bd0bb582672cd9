"""`bench report` and `bench merge`: what a results directory becomes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.io.progress import console


def report(
    results: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    out: Annotated[Path, typer.Option(help="Where the markdown goes.")] = Path("reports"),
    data_dir: Annotated[Optional[str], typer.Option(envvar="BENCH_DATA_DIR", help="Where dataset files are.")] = None,
) -> None:
    """Write reports/leaderboard.md (the paper's tables beside ours, every other run) and its figures, and
    reports/timings.json (each cell's measured wall time, which `bench run --dry-run` estimates from)."""
    from bench.grid.estimate import TIMINGS_FILE, write_timings
    from bench.report import write_report
    from bench.run.store import ResultStore

    if not results.is_dir():
        raise BenchError(f"results directory {results} does not exist", "run `bench run` first or pass --results DIR")
    console.print(f"wrote {write_report(results, out, DataOptions(data_dir=data_dir))}")
    console.print(f"wrote {write_timings(ResultStore(results).records(), out / TIMINGS_FILE)}")


def merge_command(
    sources: Annotated[list[Path], typer.Argument(help="Results directories to merge from.")],
    into: Annotated[Path, typer.Option(help="Results directory to merge into (created when missing).")],
) -> None:
    """Merge results directories (e.g. from several machines): of two records of one cell the successful,
    else the newer, is kept; every file is written atomically."""
    from bench.run.merge import merge

    report = merge(sources, into)
    for path in report.conflicts:
        console.print(f"[yellow]conflict:[/] two different successful records of {path}; kept the newer",
                      soft_wrap=True)
    for path in report.unreadable:
        console.print(f"[yellow]skipped unreadable record[/] {path}", soft_wrap=True)
    console.print(f"merged into {into}: {report.summary()}")
