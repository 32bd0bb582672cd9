"""Merge results directories (e.g. from several machines) into one, never leaving a half-written file.

A record present in both keeps the successful one, else the newer (by ``finished_at``); two
successful records of one cell that differ are a conflict: the newer is kept and the cell reported.
Files beside a record with its name (``<run_id>.npz``, ``<run_id>.pt``) travel with it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.api.errors import BenchError
from bench.io.atomic import write_atomically

RECORD_GLOB = "*/*/*.json"  # results/<dataset>/<method>/<run_id>.json, as ResultStore writes them
NOT_CARRIED = (".json", ".claim", ".takeover", ".tmp")


@dataclass
class MergeReport:
    """What a merge did, counted in records."""

    copied: int = 0  # new to the destination
    replaced: int = 0  # the source's record won over the destination's
    kept: int = 0  # the destination's record was as good, or identical
    unreadable: list[str] = field(default_factory=list)  # source records that are not valid JSON
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
    incoming = _read(path)
    if incoming is None:
        report.unreadable.append(str(path))
        return
    present = _read(target)  # an unreadable destination record counts as absent
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


def _wins(incoming: dict[str, Any], present: dict[str, Any]) -> bool:
    """Whether ``incoming`` should replace ``present``: a success beats a failure, else the newer wins."""
    ok_in, ok_present = incoming.get("status") == "ok", present.get("status") == "ok"
    if ok_in != ok_present:
        return ok_in
    return str(incoming.get("finished_at", "")) > str(present.get("finished_at", ""))


def _differ(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Two successful records of one cell with different metrics."""
    both_ok = first.get("status") == second.get("status") == "ok"
    return both_ok and first.get("metrics") != second.get("metrics")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _copy_atomically(source: Path, target: Path) -> None:
    """Copy to a temp file beside ``target``, fsync, then rename over it."""
    with source.open("rb") as src:
        write_atomically(target, lambda out: shutil.copyfileobj(src, out))
