"""Similarity retrieval: mAP@5 and mAP of same-class neighbours among the test embeddings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.api.task import Metric, ModelOutputs, Task

if TYPE_CHECKING:
    import numpy as np


def evaluate(outputs: ModelOutputs, labels: np.ndarray) -> dict[str, Any]:
    import torch

    from bench.eval import metrics

    return metrics.retrieval_map(outputs.require("embeddings"), torch.as_tensor(labels), ks=(5, None))


TASK = Task(
    name="retrieve",
    title="Similarity retrieval",
    summary="same-class test galaxies ranked by embedding similarity",
    needs=("embeddings",),
    metrics=(Metric("map@5", "mAP@5"), Metric("map", "mAP")),
    main_metric="map@5",
    evaluate=evaluate,
)
