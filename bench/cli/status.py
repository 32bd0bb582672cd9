"""`bench status`: where the cells of a results directory stand, and the jobs submitted into it."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table

from bench.api.errors import BenchError
from bench.cli.common import stdout, table

if TYPE_CHECKING:
    from bench.run.status import CellState, JobStates

SHOWN_FAILURES = 10


def status(
    results: Annotated[Path, typer.Option(help="Results directory.")] = Path("results"),
    watch: Annotated[bool, typer.Option(help="Refresh until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(min=1.0, help="Seconds between refreshes with --watch.")] = 10.0,
) -> None:
    """Count the cells of a results directory that are done, failed, running (a live claim: host and pid) and
    pending (submitted by `bench run --executor`, not recorded yet), and show the submitted jobs' states
    (SLURM's from sacct)."""
    if not results.is_dir():
        raise BenchError(f"results directory {results} does not exist", "pass --results DIR (where `bench run` wrote)")
    if not watch:
        stdout.print(_view(results))
        return
    with Live(_view(results), console=stdout, refresh_per_second=1) as live:
        try:
            while True:
                time.sleep(interval)
                live.update(_view(results))
        except KeyboardInterrupt:
            return


def _view(results: Path) -> Group:
    from bench.run.status import CELL_STATES, cell_states, job_states

    cells = cell_states(results)
    counts = Counter(cell.state for cell in cells)
    now = datetime.now(UTC).strftime("%H:%M:%S UTC")
    parts: list[Table] = [table(f"{results} at {now}: {len(cells)} cells", list(CELL_STATES),
                                [[str(counts[state]) for state in CELL_STATES]])]
    if running := [cell for cell in cells if cell.state == "running"]:
        parts.append(_running(running))
    if failed := [cell for cell in cells if cell.state == "failed"]:
        rows = [[cell.path, cell.error or ""] for cell in failed[:SHOWN_FAILURES]]
        title = f"Failed ({len(failed)}{f', the first {SHOWN_FAILURES}' if len(failed) > SHOWN_FAILURES else ''})"
        parts.append(table(title, ["cell", "error"], rows))
    if jobs := job_states(results):
        parts.append(_jobs(jobs))
    return Group(*parts)


def _running(cells: list[CellState]) -> Table:
    rows = []
    for cell in cells:
        assert cell.holder is not None
        since = datetime.fromtimestamp(cell.holder.created, UTC).strftime("%Y-%m-%d %H:%M UTC")
        rows.append([cell.path, cell.holder.host, str(cell.holder.pid), cell.holder.slurm_job or "-", since])
    return table("Running", ["cell", "host", "pid", "SLURM job", "since"], rows)


def _jobs(jobs: list[JobStates]) -> Table:
    rows = []
    for each in jobs:
        submission = each.submission
        array = submission.job_ids[0].split("_")[0]
        states = ", ".join(f"{state} {count}" for state, count in sorted(each.states.items()))
        cells = {path for task in submission.tasks for path in task}
        rows.append([submission.executor, array, submission.submitted_at[:16].replace("T", " "),
                     str(len(submission.job_ids)), str(len(cells)), states])
    return table("Submitted", ["executor", "job", "submitted (UTC)", "tasks", "cells", "task states"], rows)
