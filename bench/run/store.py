"""The results directory: one record per run under results/<dataset>/<method>/, written atomically."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from bench.api.spec import RunSpec
from bench.io.atomic import write_atomically
from bench.run.record import RecordError, RunRecord, read_record, report_skipped

RECORD_GLOB = "*/*/*.json"  # results/<dataset>/<method>/<run_id>.json, as path_for places them
UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def path_part(name: str) -> str:
    """``name`` as one file name that stays in its folder: every character but letters, digits, '.', '_'
    and '-' becomes '_' (``demo:60`` -> ``demo_60``), and a leading '.' too (no ``..``, no hidden files)."""
    safe = UNSAFE.sub("_", name) or "_"
    return "_" + safe[1:] if safe.startswith(".") else safe


class ResultStore:
    """The results directory. A record is either absent or complete: never half-written."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._reported: set[str] = set()  # invalid records already reported, each once

    def path_for(self, spec: RunSpec) -> Path:
        """Where the record of ``spec`` goes: always under the root, whatever its names hold (``../x``, ``/x``)."""
        return self.root / path_part(spec.dataset) / path_part(spec.method) / f"{path_part(spec.run_id)}.json"

    def load(self, spec: RunSpec) -> RunRecord | None:
        """The record of ``spec``; None when absent or invalid (an invalid one is reported; its run is redone)."""
        return self._read(self.path_for(spec))

    def is_done(self, spec: RunSpec) -> bool:
        """True when a successful record with every requested task exists (measured, or undefined on the data)."""
        record = self.load(spec)
        return (
            record is not None
            and record.status == "ok"
            and dict(record.spec.overrides) == dict(spec.overrides)
            and dict(record.spec.options) == dict(spec.options)
            and dict(record.spec.inputs) == dict(spec.inputs)
            and all(task in record.metrics or task in record.undefined_tasks for task in spec.tasks)
        )

    def write(self, record: RunRecord) -> Path:
        """Write ``record`` where its spec belongs: temp file in the same folder, fsync, then rename."""
        text = json.dumps(record.to_dict(), indent=2, sort_keys=True)
        return write_atomically(self.path_for(record.spec), lambda file: file.write(text.encode()))

    def records(self) -> Iterator[RunRecord]:
        """Every valid record, in path order; each invalid one is reported in one line and skipped."""
        for path in sorted(self.root.glob(RECORD_GLOB)):
            if (record := self._read(path)) is not None:
                yield record

    def _read(self, path: Path) -> RunRecord | None:
        try:
            return read_record(path)
        except FileNotFoundError:
            return None
        except RecordError as error:
            if str(error) not in self._reported:
                self._reported.add(str(error))
                report_skipped(error)
            return None
