"""bench.eval.metrics.retrieval_map against scikit-learn's per-query average_precision_score loop.

The reference ranks every other image for each query, as the full loop would; at the larger sizes
it runs over the queries of one small class only (the full loop takes minutes), so the comparison
is per query. Its values are checked against ours on exactly those queries: giving every image of
another class a label of its own leaves those classes without relevant items (no AP), so ours then
averages over the small class's queries alone, with relevance unchanged. The check runs on the
signs of the embeddings: +-1 rows normalise exactly and their dot products are exact in float32
whatever the matmul's summation order, so both sides rank identical scores (ties included, which
both resolve the same way); sklearn's cost per query does not depend on the values.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ratios import timed
from sklearn.metrics import average_precision_score

from bench.eval.metrics import retrieval_map

DIM = 256
SIZES = (1_000, 5_000, 20_000)
SMALL_CLASS = 150  # images of class 0: the reference's queries


def clustered(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings around 10 class centres (class 0 small), noisy enough that AP is far from 0 and 1."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.zeros(min(SMALL_CLASS, n // 10), int), rng.integers(1, 10, n)])[:n]
    centres = rng.standard_normal((10, DIM))
    embeddings = centres[labels] + 2.5 * rng.standard_normal((n, DIM))
    return torch.as_tensor(embeddings, dtype=torch.float32), torch.as_tensor(labels)


def only_class_zero(labels: torch.Tensor) -> torch.Tensor:
    """Class 0 kept; every other image alone in a class of its own (so it is no query with an AP)."""
    return torch.where(labels == 0, 0, torch.arange(1, len(labels) + 1))


def sklearn_map(embeddings: torch.Tensor, labels: torch.Tensor, queries: np.ndarray) -> float:
    normed = F.normalize(embeddings, dim=1).numpy()
    truth = labels.numpy()
    aps = []
    for q in queries:
        others = np.arange(len(truth)) != q
        aps.append(average_precision_score(truth[others] == truth[q], normed[others] @ normed[q]))
    return float(np.mean(aps))


@pytest.mark.parametrize("n", SIZES)
def test_ours(benchmark: object, n: int) -> None:
    embeddings, labels = clustered(n)
    result = timed(benchmark, f"retrieval mAP {n:,} x {DIM}", "ours", n,
                   lambda: retrieval_map(embeddings, labels, ks=(5, None)))
    assert 0.05 < result["map"] < 0.95 and result["queries"] == n


@pytest.mark.parametrize("n", SIZES)
def test_sklearn_reference(benchmark: object, n: int) -> None:
    embeddings, labels = clustered(n)
    signs = torch.sign(embeddings)
    queries = np.arange(n) if n <= 1_000 else np.flatnonzero(labels.numpy() == 0)
    reference = timed(benchmark, f"retrieval mAP {n:,} x {DIM}", "reference", len(queries),
                      lambda: sklearn_map(signs, labels, queries), rounds=1)
    ours = retrieval_map(signs, labels if n <= 1_000 else only_class_zero(labels), ks=(None,))
    assert ours["queries"] == len(queries)
    assert ours["map"] == pytest.approx(reference, rel=1e-12)
