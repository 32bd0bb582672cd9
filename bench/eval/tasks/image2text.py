"""Image-to-text retrieval: each test image ranks the distinct test captions by similarity; its own caption is
its true match (bench/eval/crossmodal.py ``image_to_text``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.api.task import ModelOutputs, Task
from bench.eval.tasks.text_retrieval import retrieval_metrics

if TYPE_CHECKING:
    import numpy as np


def evaluate(outputs: ModelOutputs, labels: np.ndarray) -> dict[str, Any]:
    from bench.eval.crossmodal import image_to_text

    return image_to_text(outputs.require("embeddings"), outputs.require("caption_text"),
                         outputs.require("caption_of"))


TASK = Task(
    name="image2text",
    title="Image-to-text retrieval",
    summary="each test galaxy finds its own caption among the distinct test captions (recall@k, top-k% accuracy)",
    needs=("embeddings", "caption_text"),
    metrics=retrieval_metrics("I→T", "test image", "distinct test captions"),
    main_metric="recall@5",
    evaluate=evaluate,
)
