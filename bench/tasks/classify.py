"""Classification: accuracy and macro-F1 of the method's predictions on the test split."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import metrics
from bench.tasks.outputs import ModelOutputs


def evaluate(outputs: ModelOutputs, labels: np.ndarray) -> dict[str, Any]:
    scores = outputs.require("scores")
    predicted, num_classes = scores.argmax(dim=1), scores.shape[1]
    return {
        "accuracy": metrics.accuracy(labels, predicted),
        "macro_f1": metrics.macro_f1(labels, predicted, num_classes),
        "confusion_matrix": metrics.confusion_matrix(labels, predicted, num_classes).tolist(),
    }
