"""Classification: accuracy and macro-F1 of the method's predictions on the test split."""

from __future__ import annotations

from typing import Any

from bench import metrics
from bench.data.base import GalaxyData
from bench.method import Method


def evaluate(method: Method, test: GalaxyData) -> dict[str, Any]:
    predicted = method.predict(test).argmax(dim=1)
    return {
        "accuracy": metrics.accuracy(test.labels, predicted),
        "macro_f1": metrics.macro_f1(test.labels, predicted, test.num_classes),
        "confusion_matrix": metrics.confusion_matrix(test.labels, predicted, test.num_classes).tolist(),
    }
