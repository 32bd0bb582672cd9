"""Text-to-image retrieval: each distinct test caption ranks the test images by similarity; the images with
that caption are its true matches (bench/eval/crossmodal.py ``text_to_image``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.api.task import ModelOutputs, Task
from bench.eval.tasks.text_retrieval import retrieval_metrics

if TYPE_CHECKING:
    import numpy as np


def evaluate(outputs: ModelOutputs, labels: np.ndarray) -> dict[str, Any]:
    from bench.eval.crossmodal import text_to_image

    return text_to_image(outputs.require("embeddings"), outputs.require("caption_text"),
                         outputs.require("caption_of"))


TASK = Task(
    name="text2image",
    title="Text-to-image retrieval",
    summary="each test caption finds its galaxies among the test images (recall@k, top-k% accuracy)",
    needs=("embeddings", "caption_text"),
    metrics=retrieval_metrics("T→I", "distinct test caption", "test images"),
    main_metric="recall@5",
    evaluate=evaluate,
)
