"""Similarity retrieval: mAP@5 and mAP of same-class neighbours among the test embeddings."""

from __future__ import annotations

from typing import Any

import torch

from bench import metrics
from bench.data.base import GalaxyData
from bench.method import Method


def evaluate(method: Method, test: GalaxyData) -> dict[str, Any]:
    embeddings = method.embed(test)
    return metrics.retrieval_map(embeddings, torch.as_tensor(test.labels), ks=(5, None))
