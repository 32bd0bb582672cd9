"""Run records as a long table: one row per (run, task, scalar metric), with the run's spec columns."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.data.captions import sources
from bench.run.record import RunRecord


def settings_label(spec: RunSpec) -> str:
    """The hand-set overrides and options of a spec as 'key=value, ...' ('' for none), and its captions where
    they are not its cell's default source (so that runs on other captions are never averaged together)."""
    changed = {**dict(spec.overrides), **dict(spec.options)}
    captions = dict(spec.inputs).get("captions")
    if captions is not None and captions.partition(",")[0] != default_captions(spec):
        changed["captions"] = captions
    return ", ".join(f"{key}={value}" for key, value in sorted(changed.items()))


def default_captions(spec: RunSpec) -> str | None:
    """The label of the caption source a cell of ``spec`` takes without ``--captions`` (None for a method or
    dataset not installed here)."""
    try:
        return sources.cell_source(None, spec.method, spec.profile, spec.dataset, DataOptions()).label
    except BenchError:
        return None


def used_init(record: RunRecord) -> str:
    """What the run started from (its weights' init), not what was asked."""
    return record.weights.init if record.weights is not None else record.spec.init


def predicts_one_class(record: RunRecord) -> bool:
    """Whether the run's classifier put every test image in one class (its confusion matrix has a single
    non-empty column) although there are several: a collapsed model, whatever its accuracy says."""
    matrix = record.metrics.get("classify", {}).get("confusion_matrix")
    if not isinstance(matrix, list) or not matrix or len(matrix[0]) < 2:
        return False
    predicted = [sum(row[c] for row in matrix) for c in range(len(matrix[0]))]
    return sum(count > 0 for count in predicted) <= 1


def records_frame(records: Iterable[RunRecord], subset: str | None = None) -> pd.DataFrame:
    """Long table: one row per (run, task, scalar metric) of successful runs, with the spec columns
    (``init`` is what ran, not what was asked), the run id, the settings label and whether the run's
    classifier collapsed (see predicts_one_class; classification rows only). With ``subset``, the
    metrics on that named subset of the test split (RunRecord.subset_metrics) of the runs that have it."""
    rows = []
    for record in records:
        if record.status != "ok":
            continue
        spec = record.spec.to_dict()
        started = used_init(record)
        collapsed = predicts_one_class(record)
        metrics = record.metrics if subset is None else record.subset_metrics.get(subset, {})
        for task, values in metrics.items():
            for metric, value in values.items():
                if isinstance(value, int | float):  # not a confusion matrix
                    rows.append({"run_id": record.run_id, **spec, "init": started,
                                 "settings": settings_label(record.spec), "task": task, "metric": metric,
                                 "value": float(value), "collapsed": collapsed and task == "classify"})
    return pd.DataFrame(rows)
