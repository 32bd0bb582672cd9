"""Zero-shot classification: each test image's class is the one whose text it is most similar to, with no
training on labels.

Each class's classifier row is its description put into every zero-shot template of the dataset
(bench/data/captions/), embedded by the method's text encoder, L2-normalised, averaged over templates and
normalised again (CLIP's zero-shot classifier; bench/eval/outputs.py). Metrics under CLIP_benchmark's names
(bench/eval/crossmodal.py ``zeroshot_metrics`` has the exact definitions, ties included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.api.task import Metric, ModelOutputs, Task

if TYPE_CHECKING:
    import numpy as np

TIES = "a class tied with the true one counts as ranked above it"


def evaluate(outputs: ModelOutputs, labels: np.ndarray) -> dict[str, Any]:
    import torch

    from bench.eval.crossmodal import zeroshot_metrics

    scores = outputs.require("embeddings") @ outputs.require("class_text").T
    return zeroshot_metrics(scores, torch.as_tensor(labels))


TASK = Task(
    name="zeroshot",
    title="Zero-shot classification",
    summary="each test galaxy's class by its similarity to the classes' prompts, averaged over templates",
    needs=("embeddings", "class_text"),
    metrics=(
        Metric("acc1", "Zero-shot acc@1",
               definition=f"fraction of test images whose most similar class text is the true class; {TIES}"),
        Metric("acc5", "Zero-shot acc@5",
               definition=f"fraction whose true class is among the 5 most similar, reported when there are more "
               f"than 5 classes; {TIES}"),
        Metric("mean_per_class_recall", "Zero-shot mean per-class recall",
               definition="mean over the test classes of the fraction of each class's images classified as it "
               "(balanced accuracy)"),
    ),
    main_metric="acc1",
    evaluate=evaluate,
)
