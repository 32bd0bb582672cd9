"""What a fine-tuned method gives on the test split, computed once and shared by every task."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from bench.api import registry
from bench.api.data import GalaxyData
from bench.api.method import Method


@dataclass(frozen=True)
class ModelOutputs:
    """A model's outputs on the test split, row i for test image i; None where no task needed them."""

    embeddings: torch.Tensor | None = None  # (N, D) L2-normalised
    scores: torch.Tensor | None = None  # (N, C) class scores

    @property
    def predicted(self) -> torch.Tensor | None:
        return None if self.scores is None else self.scores.argmax(dim=1)

    def require(self, name: str) -> torch.Tensor:
        """The named output; a missing one is a bug in the caller, not user input."""
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"the test outputs have no {name}: compute them with compute_outputs(..., tasks)")
        return value


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
