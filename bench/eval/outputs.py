"""A fine-tuned method's outputs on the test split, computed once and shared by every task and test subset."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from bench.api import registry
from bench.api.capabilities import EmbedsText, lacking
from bench.api.data import GalaxyData
from bench.api.errors import BenchError
from bench.api.method import Method
from bench.api.task import ModelOutputs, Output, UndefinedMetric
from bench.api.text import ClassText

TEXT_OUTPUTS: frozenset[Output] = frozenset({"class_text", "caption_text"})
TEXT_BATCH = 256  # texts embedded per call


def needed_outputs(tasks: Iterable[str]) -> set[Output]:
    return {output for task in tasks for output in registry.task(task).needs}


def text_method(method: Method, tasks: Iterable[str]) -> EmbedsText | None:
    """``method`` as an EmbedsText when ``tasks`` need text embedded, None when they do not; the one-line
    error when they do and it cannot (checked before training, and again when computing the outputs)."""
    tasks = tuple(tasks)
    if not needed_outputs(tasks) & TEXT_OUTPUTS:
        return None
    if not isinstance(method, EmbedsText):
        needing = ", ".join(t for t in tasks if set(registry.task(t).needs) & TEXT_OUTPUTS)
        raise lacking(method, EmbedsText, f"embed text for {needing}")
    return method


def compute_outputs(
    method: Method, test: GalaxyData, tasks: Iterable[str], device: torch.device | None = None,
    class_text: ClassText | None = None,
) -> ModelOutputs:
    """One pass of ``method`` over ``test`` for what ``tasks`` need. The embeddings (and text embeddings)
    are moved to ``device`` (when given), so that retrieval ranks them there: on a GPU, in a fraction of
    the CPU's time. ``class_text`` (the dataset's class descriptions and zero-shot templates) makes the
    zero-shot classifier."""
    tasks = tuple(tasks)
    needs = needed_outputs(tasks)
    texts = text_method(method, tasks)
    captions = caption_rows(test) if "caption_text" in needs else None
    classifier = caption_text = caption_of = None
    if texts is not None and "class_text" in needs:
        if class_text is None:
            raise ValueError("the zeroshot task needs the dataset's class text: pass compute_outputs(class_text=...)")
        classifier = zeroshot_classifier(texts, class_text).to(device)
    if texts is not None and captions is not None:
        caption_text, caption_of = embed_texts(texts, captions[0]).to(device), captions[1].to(device)
    outputs = ModelOutputs(
        embeddings=method.embed(test).to(device) if "embeddings" in needs else None,
        scores=method.predict(test) if "scores" in needs else None,
        class_text=classifier, caption_text=caption_text, caption_of=caption_of,
    )
    for name in sorted(needs):
        if not torch.isfinite(outputs.require(name)).all():
            raise BenchError(
                f"{method.name} gives NaN or infinite {name} on the test split: its fine-tune diverged",
                "lower the learning rate (--lr), or check the images for NaN/inf",
            )
    return outputs


def embed_texts(method: EmbedsText, texts: list[str]) -> torch.Tensor:
    """(len(texts), D) float32 L2-normalised embeddings of ``texts``, TEXT_BATCH at a time."""
    parts = [method.embed_text(texts[start : start + TEXT_BATCH]) for start in range(0, len(texts), TEXT_BATCH)]
    return F.normalize(torch.cat(parts).float(), dim=1)


def zeroshot_classifier(method: EmbedsText, text: ClassText) -> torch.Tensor:
    """(C, D): each class's prompts (its description in every zero-shot template) embedded, L2-normalised,
    averaged over templates and normalised again: CLIP's zero-shot classifier (Radford et al. 2021,
    prompt ensembling)."""
    count = len(text.descriptions)
    prompts = [prompt for index in range(count) for prompt in text.prompts(index)]
    embedded = embed_texts(method, prompts).reshape(count, len(text.templates), -1)
    return F.normalize(embedded.mean(dim=1), dim=1)


def caption_rows(test: GalaxyData) -> tuple[list[str], torch.Tensor]:
    """The distinct captions of ``test`` in first-seen order, and (N,) each image's row among them.
    BenchError when the test split has no captions."""
    if test.captions is None:
        raise BenchError(
            f"the test split of {test.name} has no captions, so text2image and image2text cannot run",
            "give the run a caption source: bench run --captions classes|blip|FILE.csv",
        )
    rows: dict[str, int] = {}
    caption_of = [rows.setdefault(caption, len(rows)) for caption in test.captions]
    return list(rows), torch.tensor(caption_of, dtype=torch.long)


class Evaluation(NamedTuple):
    """Each task's metrics, and why each task the test data cannot define has none."""

    metrics: dict[str, dict[str, Any]]
    undefined: dict[str, str]


def evaluate(outputs: ModelOutputs, labels: np.ndarray, tasks: Iterable[str]) -> Evaluation:
    """Each of ``tasks``' metrics of ``outputs`` (row i for test image i) against the test ``labels``; a task
    whose metric the data cannot define (UndefinedMetric) is recorded with its reason, and the others kept."""
    metrics, undefined = {}, {}
    for task in tasks:
        try:
            metrics[task] = registry.task(task).evaluate(outputs, labels)
        except UndefinedMetric as error:
            undefined[task] = str(error)
    return Evaluation(metrics, undefined)


def evaluate_subsets(
    outputs: ModelOutputs, labels: np.ndarray, tasks: Iterable[str], subsets: Mapping[str, np.ndarray]
) -> dict[str, Evaluation]:
    """:func:`evaluate` on each named subset of the test split (indices into it), on the subset's rows of
    ``outputs``: the same model outputs, no second pass. Retrieval ranks within the subset."""
    tasks = tuple(tasks)
    return {name: evaluate(outputs.rows(rows), labels[rows], tasks) for name, rows in subsets.items()}


def thin_classes(labels: np.ndarray, class_names: tuple[str, ...], tasks: Iterable[str]) -> list[str]:
    """One warning per task for which some test classes have fewer images than it needs to count them."""
    counts = np.bincount(labels, minlength=len(class_names))
    warnings = []
    for task in map(registry.task, tasks):
        thin = [f"{name} ({count})" for name, count in zip(class_names, counts, strict=True)
                if count < task.min_test_per_class]
        if thin:
            warnings.append(f"{task.name}: the test split has fewer than {task.min_test_per_class} images of "
                            f"{', '.join(thin)}, so {task.name} leaves them out (undefined if every class does)")
    return warnings
