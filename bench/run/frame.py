"""Run records as a long table: one row per (run, task, scalar metric), with the run's spec columns."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from bench.api.spec import RunSpec
from bench.run.record import RunRecord


def settings_label(spec: RunSpec) -> str:
    """The hand-set overrides and options of a spec as 'key=value, ...' ('' for none)."""
    changed = {**dict(spec.overrides), **dict(spec.options)}
    return ", ".join(f"{key}={value}" for key, value in sorted(changed.items()))


def records_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """Long table: one row per (run, task, scalar metric) of successful runs, with the spec columns
    (``init`` is what ran, not what was asked), the run id and the settings label."""
    rows = []
    for record in records:
        if record.status != "ok":
            continue
        spec = record.spec.to_dict()
        used_init = record.weights.init if record.weights is not None else record.spec.init
        for task, values in record.metrics.items():
            for metric, value in values.items():
                if isinstance(value, int | float):  # not a confusion matrix
                    rows.append({"run_id": record.run_id, **spec, "init": used_init,
                                 "settings": settings_label(record.spec), "task": task, "metric": metric,
                                 "value": float(value)})
    return pd.DataFrame(rows)
