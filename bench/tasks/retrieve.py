"""Similarity retrieval: mAP@5 and mAP of same-class neighbours among the test embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench import metrics
from bench.tasks.outputs import ModelOutputs


def evaluate(outputs: ModelOutputs, labels: np.ndarray) -> dict[str, Any]:
    return metrics.retrieval_map(outputs.require("embeddings"), torch.as_tensor(labels), ks=(5, None))
