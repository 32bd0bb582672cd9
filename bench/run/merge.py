"""Merge results directories (e.g. from several machines) into one, never leaving a half-written file.

A record present in both keeps the successful one, else the newer (by ``finished_at``); two
successful records of one cell that differ are a conflict: the newer is kept and the cell reported.
Files beside a record with its name (``<run_id>.npz``, ``<run_id>.pt``) travel with it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.api.errors import BenchError
from bench.io.atomic import write_atomically
from bench.run.record import RecordError, RunRecord, read_record, report_skipped
from bench.run.store import RECORD_GLOB

NOT_CARRIED = (".json", ".claim", ".takeover", ".tmp")


@dataclass
class MergeReport:
    """What a merge did, counted in records."""

    copied: int = 0  # new to the destination
    replaced: int = 0  # the source's record won over the destination's
    kept: int = 0  # the destination's record was as good, or identical
    unreadable: list[str] = field(default_factory=list)  # source files that are not valid records
    conflicts: list[str] = field(default_factory=list)  # cells with two different successful records

    def summary(self) -> str:
        return (
            f"copied {self.copied}, replaced {self.replaced}, kept {self.kept}, conflicts {len(self.conflicts)} "
            f"(newer kept), unreadable {len(self.unreadable)} (skipped)"
        )


def merge(sources: Sequence[Path], into: Path) -> MergeReport:
    """Merge the records of every results directory in ``sources`` into ``into``."""
    report = MergeReport()
    for source in sources:
        if not source.is_dir():
            raise BenchError(f"results directory {source} does not exist", "pass existing results directories")
        if source.resolve() == into.resolve():
            raise BenchError(f"{source} is both a source and the destination", "merge into another directory")
        for path in sorted(source.glob(RECORD_GLOB)):
            _merge_record(path, into / path.relative_to(source), report)
    return report


def _merge_record(path: Path, target: Path, report: MergeReport) -> None:
    try:
        incoming = read_record(path)
    except RecordError as error:
        report_skipped(error)
        report.unreadable.append(str(path))
        return
    present = _present(target)
    if present is not None and _differ(incoming, present):
        report.conflicts.append(str(target))
    if present is None:
        report.copied += 1
    elif _wins(incoming, present):
        report.replaced += 1
    else:
        report.kept += 1
        return
    for sibling in sorted(path.parent.glob(f"{path.stem}.*")):
        if sibling.suffix not in NOT_CARRIED and sibling != path:
            _copy_atomically(sibling, target.with_name(sibling.name))
    _copy_atomically(path, target)  # last, so a record never points at files not yet there


def _present(target: Path) -> RunRecord | None:
    """The destination's record; None when absent or not valid (then the incoming one replaces it)."""
    try:
        return read_record(target)
    except (FileNotFoundError, RecordError):
        return None


def _wins(incoming: RunRecord, present: RunRecord) -> bool:
    """Whether ``incoming`` should replace ``present``: a success beats a failure, else the newer wins."""
    ok_in, ok_present = incoming.status == "ok", present.status == "ok"
    if ok_in != ok_present:
        return ok_in
    return (incoming.finished_at or "") > (present.finished_at or "")


def _differ(first: RunRecord, second: RunRecord) -> bool:
    """Two successful records of one cell with different metrics."""
    return first.status == second.status == "ok" and first.metrics != second.metrics


def _copy_atomically(source: Path, target: Path) -> None:
    """Copy to a temp file beside ``target``, fsync, then rename over it."""
    with source.open("rb") as src:
        write_atomically(target, lambda out: shutil.copyfileobj(src, out))
