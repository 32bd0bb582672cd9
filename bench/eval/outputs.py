"""A fine-tuned method's outputs on the test split, computed once and shared by every task and test subset."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np
import torch

from bench.api import registry
from bench.api.data import GalaxyData
from bench.api.errors import BenchError
from bench.api.method import Method
from bench.api.task import ModelOutputs, UndefinedMetric


def compute_outputs(
    method: Method, test: GalaxyData, tasks: Iterable[str], device: torch.device | None = None
) -> ModelOutputs:
    """One pass of ``method`` over ``test`` for what ``tasks`` need. The embeddings are moved to
    ``device`` (when given), so that retrieval ranks them there: on a GPU, in a fraction of the
    CPU's time."""
    needs = {output for task in tasks for output in registry.task(task).needs}
    outputs = ModelOutputs(
        embeddings=method.embed(test).to(device) if "embeddings" in needs else None,
        scores=method.predict(test) if "scores" in needs else None,
    )
    for name in sorted(needs):
        if not torch.isfinite(outputs.require(name)).all():
            raise BenchError(
                f"{method.name} gives NaN or infinite {name} on the test split: its fine-tune diverged",
                "lower the learning rate (--lr), or check the images for NaN/inf",
            )
    return outputs


class Evaluation(NamedTuple):
    """Each task's metrics, and why each task the test data cannot define has none."""

    metrics: dict[str, dict[str, Any]]
    undefined: dict[str, str]


def evaluate(outputs: ModelOutputs, labels: np.ndarray, tasks: Iterable[str]) -> Evaluation:
    """Each of ``tasks``' metrics of ``outputs`` (row i for test image i) against the test ``labels``; a task
    whose metric the data cannot define (UndefinedMetric) is recorded with its reason, and the others kept."""
    metrics, undefined = {}, {}
    for task in tasks:
        try:
            metrics[task] = registry.task(task).evaluate(outputs, labels)
        except UndefinedMetric as error:
            undefined[task] = str(error)
    return Evaluation(metrics, undefined)


def evaluate_subsets(
    outputs: ModelOutputs, labels: np.ndarray, tasks: Iterable[str], subsets: Mapping[str, np.ndarray]
) -> dict[str, Evaluation]:
    """:func:`evaluate` on each named subset of the test split (indices into it), on the subset's rows of
    ``outputs``: the same model outputs, no second pass. Retrieval ranks within the subset."""
    tasks = tuple(tasks)
    return {name: evaluate(outputs.rows(rows), labels[rows], tasks) for name, rows in subsets.items()}


def thin_classes(labels: np.ndarray, class_names: tuple[str, ...], tasks: Iterable[str]) -> list[str]:
    """One warning per task for which some test classes have fewer images than it needs to count them."""
    counts = np.bincount(labels, minlength=len(class_names))
    warnings = []
    for task in map(registry.task, tasks):
        thin = [f"{name} ({count})" for name, count in zip(class_names, counts, strict=True)
                if count < task.min_test_per_class]
        if thin:
            warnings.append(f"{task.name}: the test split has fewer than {task.min_test_per_class} images of "
                            f"{', '.join(thin)}, so {task.name} leaves them out (undefined if every class does)")
    return warnings
