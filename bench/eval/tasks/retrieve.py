"""Similarity retrieval: mAP@5 and mAP of same-class neighbours among the test embeddings.

Each test embedding queries the others by cosine similarity (itself left out); items of its class
are relevant, and queries with none (a class of one) are skipped. The paper does not define its
AP@k, so both conventions in use are reported, from one ranking pass
(bench/eval/metrics.py ``retrieval_map`` has the exact definitions):

- ``map@5`` divides the precisions at relevant ranks within the top 5 by min(5, R), R the
  query's relevant items: a query with fewer than 5 relevant items found there scores below 1.
- ``map@5_tm`` is torchmetrics' ``RetrievalMAP(top_k=5)``: it divides by the relevant items found
  in the top 5 (0 when none is): how precise the retrieved ones are, not how many were found.
- ``map`` is full AP over all N - 1 ranks (scikit-learn's average_precision_score).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.api.task import Metric, ModelOutputs, Task

if TYPE_CHECKING:
    import numpy as np


def evaluate(outputs: ModelOutputs, labels: np.ndarray) -> dict[str, Any]:
    import torch

    from bench.eval import metrics

    return metrics.retrieval_map(outputs.require("embeddings"), torch.as_tensor(labels), ks=(5, None), tm_ks=(5,))


TASK = Task(
    name="retrieve",
    title="Similarity retrieval",
    summary="same-class test galaxies ranked by embedding similarity (mAP@5: divided by min(5, R); "
    "mAP@5 (torchmetrics): by the relevant items found in the top 5)",
    needs=("embeddings",),
    metrics=(
        Metric(
            "map@5",
            "mAP@5",
            definition="mean over queries of the sum of precision@i at relevant ranks i <= 5, divided by "
            "min(5, R); the query left out; queries without a relevant item skipped; tied scores share "
            "their group's precision and enter the top 5 in index order",
        ),
        Metric(
            "map@5_tm",
            "mAP@5 (torchmetrics)",
            definition="torchmetrics' RetrievalMAP(top_k=5): mean over queries of the sum of precision@i at "
            "relevant ranks i <= 5, divided by the relevant items in the top 5 (0 if none); the query left "
            "out; queries without a relevant item skipped (empty_target_action='skip'); ties ranked by index",
        ),
        Metric(
            "map",
            "mAP",
            definition="mean over queries of the sum of precision@i at every relevant rank, divided by R "
            "(scikit-learn's average_precision_score); the query left out; queries without a relevant item skipped",
        ),
    ),
    main_metric="map@5",
    evaluate=evaluate,
    min_test_per_class=2,
)
