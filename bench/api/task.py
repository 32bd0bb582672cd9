"""The task contract: what a task reads from a model's test outputs, and the metrics it reports.

A task is registered through the ``bench.tasks`` entry-point group (see bench/api/registry.py);
reports, the CLI summary and grid validation read everything they need from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np
    import torch

# Fields of ModelOutputs; "caption_text" brings "caption_of" with it.
Output = Literal["embeddings", "scores", "class_text", "caption_text"]


class UndefinedMetric(ValueError):
    """The test data cannot define a task's metric (e.g. retrieval where no class has two members): the
    run records why, beside the tasks that could be computed."""


@dataclass(frozen=True)
class ModelOutputs:
    """A model's outputs on the test split, row i for test image i; None where no task needed them."""

    embeddings: torch.Tensor | None = None  # (N, D) L2-normalised
    scores: torch.Tensor | None = None  # (N, C) class scores
    # Text in the image embeddings' space (methods that embed text): the zero-shot classifier, one
    # L2-normalised row per class (its prompt templates' embeddings averaged, as CLIP does); and the
    # test split's distinct captions (M, D), with caption_of[i] the row of test image i's caption.
    class_text: torch.Tensor | None = None  # (C, D)
    caption_text: torch.Tensor | None = None  # (M, D)
    caption_of: torch.Tensor | None = None  # (N,) long

    @property
    def predicted(self) -> torch.Tensor | None:
        return None if self.scores is None else self.scores.argmax(dim=1)

    def rows(self, indices: np.ndarray) -> ModelOutputs:
        """The outputs of test images ``indices`` only (a test subset's), sliced from these: the subset's
        images, its classes' text, and the captions of its images alone."""
        embeddings, scores = (None if value is None else value[indices] for value in (self.embeddings, self.scores))
        caption_text = caption_of = None
        if self.caption_text is not None and self.caption_of is not None:
            kept, caption_of = self.caption_of[indices].unique(return_inverse=True)
            caption_text = self.caption_text[kept]
        return ModelOutputs(embeddings, scores, self.class_text, caption_text, caption_of)

    def require(self, name: str) -> torch.Tensor:
        """The named output; a missing one is a bug in the caller, not user input."""
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"the test outputs have no {name}: compute them with compute_outputs(..., tasks)")
        return value


@dataclass(frozen=True)
class Metric:
    """One number a task reports."""

    name: str  # the key in the record, e.g. "map@5"
    title: str  # how tables head it, e.g. "mAP@5"
    higher_is_better: bool = True
    definition: str = ""  # one line: how it is computed (the comparability card prints it)


@dataclass(frozen=True)
class Task:
    """An evaluation: ``evaluate(outputs, test_labels)`` returns a dict holding every metric's value
    under its name (and may hold more, e.g. a confusion matrix)."""

    name: str
    title: str  # how reports head its tables, e.g. "Similarity retrieval"
    summary: str
    needs: tuple[Output, ...]
    metrics: tuple[Metric, ...]  # the headline numbers, in table order
    main_metric: str
    evaluate: Callable[[ModelOutputs, np.ndarray], dict[str, Any]]
    # Test images each class needs for the task to count it (retrieval: a query needs another of its class).
    min_test_per_class: int = 1

    def __post_init__(self) -> None:
        if self.main_metric not in self.metric_names:
            raise ValueError(f"task {self.name}: main metric {self.main_metric!r} is not among its metrics")

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(metric.name for metric in self.metrics)

    def metric(self, name: str) -> Metric:
        return next(metric for metric in self.metrics if metric.name == name)
