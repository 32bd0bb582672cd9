"""Which runs the per-method figures draw: one representative run per (dataset, method).

The representative run has training fraction 1.0, full fine-tuning and the method's first variant
(``default`` for baselines, ``full`` for GalaxAlign); among several it prefers default settings,
pretrained weights and the paper profile, then the lowest seed (seed 0 when it exists). The
figures drawn from one method's embeddings (PCA grid, retrieval examples) show the featured run:
the representative run with the best main metric of the retrieve task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.api import registry
from bench.api.errors import BenchError
from bench.run.artifacts import RunArtifacts, artifacts_of
from bench.run.frame import settings_label
from bench.run.record import RunRecord

FEATURED_TASK = "retrieve"  # the embedding figures feature the method that retrieves best


@dataclass(frozen=True)
class Run:
    """A finished run's record with its saved test outputs (None for records written before them)."""

    record: RunRecord
    artifacts: RunArtifacts | None

    @property
    def method(self) -> str:
        return self.record.spec.method

    @property
    def class_names(self) -> list[str]:
        names = self.record.ok_data.class_names
        if names is None:
            raise BenchError(f"run {self.record.run_id} has no class names in its record",
                             "run it again with `bench run` to draw its figures")
        return names

    @property
    def accuracy(self) -> float | None:
        value = self.record.metrics.get("classify", {}).get("accuracy")
        return float(value) if isinstance(value, int | float) else None

    def score(self, task: str, metric: str) -> float | None:
        """The run's ``metric`` of ``task``; None when it did not evaluate it."""
        value = self.record.metrics.get(task, {}).get(metric)
        return float(value) if isinstance(value, int | float) else None

    @property
    def has_embeddings(self) -> bool:
        return self.artifacts is not None and self.artifacts.embeddings is not None

    @property
    def label(self) -> str:
        """Panel title: the method and the run's seed (and its hand-set settings, if any)."""
        changed = settings_label(self.record.spec)
        return f"{self.method}\nseed {self.record.spec.seed}" + (f", {changed}" if changed else "")


def first_variant(method: str) -> str:
    """The method's default variant; ``default`` for a method not installed here."""
    try:
        return registry.method_card(method).variants[0]
    except BenchError:
        return "default"


def _preference(record: RunRecord) -> tuple[Any, ...]:
    spec = record.spec
    changed = settings_label(spec)
    return (changed != "", spec.init != "pretrained", spec.profile != "paper", changed, spec.seed)


def representative_runs(records: list[RunRecord], results_dir: Path) -> list[Run]:
    """One run per method among ``records`` (finished runs of one dataset), in method order."""
    best: dict[str, RunRecord] = {}
    for record in records:
        spec = record.spec
        if spec.fraction != 1.0 or spec.adapt != "full" or spec.variant != first_variant(spec.method):
            continue
        current = best.get(spec.method)
        if current is None or _preference(record) < _preference(current):
            best[spec.method] = record
    return [Run(best[method], artifacts_of(best[method], results_dir)) for method in sorted(best)]


@dataclass(frozen=True)
class Featured:
    """The run the embedding figures show, and why it was picked (for their titles)."""

    run: Run
    reason: str


def featured_run(runs: list[Run]) -> Featured | None:
    """Among ``runs`` (one dataset's representative runs) with saved embeddings, the one with the best
    main metric of the retrieve task (ties: the first method by name); None when none has both."""
    task = registry.task(FEATURED_TASK)
    metric = task.metric(task.main_metric)
    sign = 1.0 if metric.higher_is_better else -1.0
    scored = [(value, run) for run in runs if run.has_embeddings
              if (value := run.score(task.name, metric.name)) is not None]
    if not scored:
        return None
    value, best = min(scored, key=lambda pair: (-sign * pair[0], pair[1].method))
    among = f"{len(scored)} method{'s' if len(scored) > 1 else ''}"
    return Featured(best, f"featured for the best {metric.title} ({value:.3f}) of {among}; ties: first by name")
