"""Generic leaderboard pieces: mean ± std cells, per-task tables of every run setting, failures, notes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from bench.api import registry
from bench.api.errors import BenchError
from bench.api.task import Metric
from bench.run.record import RunRecord

ROW_KEYS = ["method", "variant", "adapt", "init", "profile", "settings"]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def format_cell(mean: float, std: float, n: int, collapsed: int = 0) -> str:
    """'mean ± std (n)'; the std of a single seed is shown as '–' rather than a made-up 0; '⚠ collapsed'
    when ``collapsed`` of the n runs predict a single class."""
    spread = f"{std:.4f}" if n > 1 else "–"
    flag = f" ⚠ collapsed ({collapsed} of {n}: one class predicted)" if collapsed else ""
    return f"{mean:.4f} ± {spread} ({n}){flag}"


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample std, seed count and collapsed runs per (row keys, dataset, task, metric, fraction)."""
    keys = [*ROW_KEYS, "dataset", "task", "metric", "fraction"]
    grouped = frame.groupby(keys, dropna=False)
    return grouped.agg(mean=("value", "mean"), std=("value", "std"), count=("value", "count"),
                       collapsed=("collapsed", "sum")).reset_index()


def task_table(summary: pd.DataFrame, task: str, dataset: str) -> str | None:
    """One table: rows = method settings, columns = metric (x fraction when there are several)."""
    part = summary[(summary.task == task) & (summary.dataset == dataset)]
    return metrics_table(part, [(task, metric) for metric in registry.task(task).metrics])


def metrics_table(
    part: pd.DataFrame, metrics: Sequence[tuple[str, Metric]], recipe: Callable[[str], str] | None = None
) -> str | None:
    """Rows = method settings, columns = the (task, metric)s of ``metrics`` that ``part`` (rows of ``summarise``)
    has (x fraction when there are several); with ``recipe``, a Recipe column of ``recipe(method)``."""
    if part.empty:
        return None
    fractions = sorted(part.fraction.unique(), reverse=True)
    present = set(zip(part.task, part.metric, part.fraction, strict=True))
    columns = [(task, m, f) for task, m in metrics for f in fractions if (task, m.name, f) in present]
    headers = ["Method", "Variant", "Adapt", "Init", "Profile", *(["Recipe (re-trained here)"] if recipe else [])]
    headers += [m.title + ("" if len(fractions) == 1 else f" @ {f:g}") for _, m, f in columns]
    cells = {(*(row[k] for k in ROW_KEYS), row["task"], row["metric"], row["fraction"]): row
             for _, row in part.iterrows()}
    rows = []
    for settings in sorted({key[: len(ROW_KEYS)] for key in cells}):
        method, variant, adapt, init, profile, changed = settings
        label = f"{method} ({changed})" if changed else method
        row = [label, variant, adapt, init, profile, *([recipe(method)] if recipe else [])]
        for task, metric, fraction in columns:
            found = cells.get((*settings, task, metric.name, fraction))
            row.append("" if found is None else
                       format_cell(found["mean"], found["std"], int(found["count"]), int(found["collapsed"])))
        rows.append(row)
    return markdown_table(headers, rows)


def failures_table(records: list[RunRecord]) -> str | None:
    failed = [r for r in records if r.status != "ok"]
    if not failed:
        return None
    rows = [[r.spec.method, r.spec.dataset, r.run_id, (r.error or "").replace("|", "/")] for r in failed]
    return markdown_table(["Method", "Dataset", "Run", "Error"], rows)


def undefined_table(records: list[RunRecord]) -> str | None:
    """The tasks of finished runs that the test data could not define, each with its reason."""
    rows = [[r.spec.method, r.spec.dataset, r.run_id, task, why.replace("|", "/")]
            for r in records if r.status == "ok" for task, why in sorted(r.undefined_tasks.items())]
    return markdown_table(["Method", "Dataset", "Run", "Task", "Why"], rows) if rows else None


def method_notes(methods: set[str]) -> list[str]:
    """Caveats that methods declare (``notes``), e.g. pretraining data overlapping a test set."""
    notes = []
    for name in sorted(methods):
        try:
            note = getattr(registry.method_class(name), "notes", "")
        except BenchError:  # a record from a method not installed here
            continue
        if note:
            notes.append(f"- **{name}**: {note}")
    return notes
