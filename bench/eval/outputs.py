"""A fine-tuned method's outputs on the test split, computed once and shared by every task and test subset."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

from bench.api import registry
from bench.api.data import GalaxyData
from bench.api.method import Method
from bench.api.task import ModelOutputs


def compute_outputs(
    method: Method, test: GalaxyData, tasks: Iterable[str], device: torch.device | None = None
) -> ModelOutputs:
    """One pass of ``method`` over ``test`` for what ``tasks`` need. The embeddings are moved to
    ``device`` (when given), so that retrieval ranks them there: on a GPU, in a fraction of the
    CPU's time."""
    needs = {output for task in tasks for output in registry.task(task).needs}
    return ModelOutputs(
        embeddings=method.embed(test).to(device) if "embeddings" in needs else None,
        scores=method.predict(test) if "scores" in needs else None,
    )


def evaluate(outputs: ModelOutputs, labels: np.ndarray, tasks: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each of ``tasks``' metrics of ``outputs`` (row i for test image i) against the test ``labels``."""
    return {task: registry.task(task).evaluate(outputs, labels) for task in tasks}


def evaluate_subsets(
    outputs: ModelOutputs, labels: np.ndarray, tasks: Iterable[str], subsets: Mapping[str, np.ndarray]
) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`evaluate` on each named subset of the test split (indices into it), on the subset's rows of
    ``outputs``: the same model outputs, no second pass. Retrieval ranks within the subset."""
    tasks = tuple(tasks)
    return {name: evaluate(outputs.rows(rows), labels[rows], tasks) for name, rows in subsets.items()}
