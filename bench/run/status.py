"""The state of a results directory: its cells done, failed, running (live claims) and pending (submitted,
not yet recorded), and the states of the jobs executors submitted into it."""

from __future__ import annotations

import shutil
import socket
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from submitit.slurm.slurm import SlurmInfoWatcher

from bench.io.processes import alive
from bench.run import claims
from bench.run.executors.submissions import Submission, submissions
from bench.run.record import RecordError, read_record
from bench.run.store import RECORD_GLOB

CELL_STATES = ("done", "failed", "running", "pending")


@dataclass(frozen=True)
class CellState:
    """One cell: its record's path relative to the results directory, its state, who runs it, why it failed."""

    path: str
    state: str
    holder: claims.Holder | None = None
    error: str | None = None


@dataclass(frozen=True)
class JobStates:
    """One submission and how many of its tasks are in each state."""

    submission: Submission
    states: Counter[str]


def cell_states(results: Path) -> list[CellState]:
    """Every cell with a record, a live claim, or a place in a submission, by path."""
    cells: dict[str, CellState] = {}
    for path in results.glob(RECORD_GLOB):
        status, error = _record_status(path)
        if status is not None:
            cells[_relative(path, results)] = CellState(_relative(path, results), status, error=error)
    for claim in results.glob(RECORD_GLOB.replace(".json", ".claim")):
        record = claim.with_suffix(".json")
        key = _relative(record, results)
        if (holder := claims.live_holder(record)) is not None and cells.get(key, CellState(key, "")).state != "done":
            cells[key] = CellState(key, "running", holder=holder)
    for submission in submissions(results):
        for listed in (each for task in submission.tasks for each in task):
            cells.setdefault(listed, CellState(listed, "pending"))
    return sorted(cells.values(), key=lambda cell: cell.path)


def job_states(results: Path) -> list[JobStates]:
    """Each submission's tasks counted by state: SLURM's as sacct reports them, a local worker RUNNING
    while its process lives (known only on the host that started it)."""
    found = submissions(results)
    slurm_ids = [job for each in found if each.executor == "slurm" for job in each.job_ids]
    watcher = SlurmInfoWatcher(delay_s=0)
    if slurm_ids and shutil.which("sacct"):
        for job in slurm_ids:
            watcher.register_job(job)
        watcher.update()
    return [JobStates(each, Counter(_job_state(each, job, watcher) for job in each.job_ids)) for each in found]


def _job_state(submission: Submission, job: str, watcher: SlurmInfoWatcher) -> str:
    if submission.executor == "slurm":
        return watcher.get_state(job, mode="cache") if shutil.which("sacct") else "UNKNOWN (no sacct here)"
    if submission.host != socket.gethostname():
        return f"UNKNOWN (started on {submission.host})"
    return "RUNNING" if alive(int(job)) else "ENDED"


def _record_status(path: Path) -> tuple[str | None, str | None]:
    """A record's state (done or failed) and error; (None, None) when it is not a valid record (`bench
    report` says why; its cell is run again)."""
    try:
        record = read_record(path)
    except (OSError, RecordError):
        return None, None
    return ("done", None) if record.status == "ok" else ("failed", record.error)


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root))
