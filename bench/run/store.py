"""Run records: one JSON file per run under results/<dataset>/<method>/, written atomically."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from bench.api.spec import RunSpec
from bench.io.atomic import write_atomically
from bench.io.progress import console

SCHEMA_VERSION = 1


class ResultStore:
    """The results directory. A record is either absent or complete: never half-written."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, spec: RunSpec) -> Path:
        return self.root / spec.dataset.replace(":", "_") / spec.method / f"{spec.run_id}.json"

    def load(self, spec: RunSpec) -> dict[str, Any] | None:
        return _read(self.path_for(spec))

    def is_done(self, spec: RunSpec) -> bool:
        """True when a successful record with every requested task exists."""
        record = self.load(spec)
        return (
            record is not None
            and record.get("status") == "ok"
            and record.get("spec", {}).get("overrides") == dict(spec.overrides)
            and record.get("spec", {}).get("options", {}) == dict(spec.options)
            and all(task in record.get("metrics", {}) for task in spec.tasks)
        )

    def write(self, spec: RunSpec, record: dict[str, Any]) -> Path:
        """Write ``record`` for ``spec``: temp file in the same folder, fsync, then rename."""
        text = json.dumps({"schema": SCHEMA_VERSION, **record}, indent=2, sort_keys=True)
        return write_atomically(self.path_for(spec), lambda file: file.write(text.encode()))

    def records(self) -> Iterator[dict[str, Any]]:
        for path in sorted(self.root.glob("*/*/*.json")):
            if (record := _read(path)) is not None:
                yield record


def _read(path: Path) -> dict[str, Any] | None:
    """A record, or None when absent; an unreadable file is reported and treated as absent."""
    try:
        with path.open() as file:
            record = json.load(file)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        console.print(f"[yellow]ignoring unreadable record {path} ({error}); the run will be redone[/]")
        return None
    return record if isinstance(record, dict) else None


def settings_label(spec: dict[str, Any]) -> str:
    """The hand-set overrides and options of a spec as 'key=value, ...' ('' for none)."""
    changed = {**spec.get("overrides", {}), **spec.get("options", {})}
    return ", ".join(f"{key}={value}" for key, value in sorted(changed.items()))


def records_frame(records: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> pd.DataFrame:
    """Long table: one row per (run, task, metric) of successful runs, with the spec columns."""
    rows = []
    for record in records:
        if record.get("status") != "ok":
            continue
        spec = record["spec"]
        used_init = record.get("weights", {}).get("init", spec["init"])  # what ran, not what was asked
        for task, values in record["metrics"].items():
            for metric, value in values.items():
                if isinstance(value, (int, float)):
                    rows.append({**spec, "init": used_init, "settings": settings_label(spec),
                                 "task": task, "metric": metric, "value": float(value)})
    return pd.DataFrame(rows)
