"""A fine-tuned method's outputs on the test split, computed once and shared by every task."""

from __future__ import annotations

from collections.abc import Iterable

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
