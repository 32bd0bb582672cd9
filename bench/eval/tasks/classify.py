"""Classification: accuracy and macro-F1 of the method's predictions on the test split."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.api.task import Metric, ModelOutputs, Task

if TYPE_CHECKING:
    import numpy as np


def evaluate(outputs: ModelOutputs, labels: np.ndarray) -> dict[str, Any]:
    from bench.eval import metrics

    scores = outputs.require("scores")
    predicted, num_classes = scores.argmax(dim=1), scores.shape[1]
    return {
        "accuracy": metrics.accuracy(labels, predicted),
        "macro_f1": metrics.macro_f1(labels, predicted, num_classes),
        "confusion_matrix": metrics.confusion_matrix(labels, predicted, num_classes).tolist(),
    }


TASK = Task(
    name="classify",
    title="Classification",
    summary="predicted class of each test galaxy",
    needs=("scores",),
    metrics=(
        Metric("accuracy", "Accuracy", definition="fraction of test images whose top-scoring class is the true one"),
        Metric(
            "macro_f1",
            "Macro-F1",
            definition="unweighted mean over all classes of F1 = 2TP / (2TP + FP + FN) of the top-scoring class; "
            "a class neither true nor predicted counts as 0",
        ),
    ),
    main_metric="macro_f1",
    evaluate=evaluate,
)
