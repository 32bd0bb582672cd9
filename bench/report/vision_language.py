"""The leaderboard's vision-language table: zero-shot classification and cross-modal retrieval by method and
dataset, with the methods that re-train a published recipe labelled so."""

from __future__ import annotations

import pandas as pd

from bench.api import registry
from bench.api.errors import BenchError
from bench.api.task import Task
from bench.report.tables import ROW_KEYS, metrics_table

TEXT_OUTPUTS = ("class_text", "caption_text")
TITLE = "Vision-language: zero-shot classification and cross-modal retrieval"


def text_tasks() -> list[Task]:
    """The registered tasks that read text embeddings: zero-shot classification first, then retrieval."""
    found = [task for task in registry.tasks() if set(task.needs) & set(TEXT_OUTPUTS)]
    return sorted(found, key=lambda task: ("class_text" not in task.needs, task.name))


def recipe_source(method: str) -> str:
    """The published recipe ``method`` re-trains here (its card's ``recipe_source``), '' for none or for a
    method not installed here."""
    try:
        return registry.method_card(method).recipe_source or ""
    except BenchError:
        return ""


def vision_language_section(summary: pd.DataFrame) -> tuple[list[str], set[tuple[object, ...]]]:
    """The section's lines (none without a text task's run) and the keys of the measurements it shows
    (``Measured.key``: run setting, dataset, task, metric, fraction), so that "Other runs" does not repeat them."""
    tasks = text_tasks()
    part = summary[summary.task.isin([task.name for task in tasks])]
    headline = {(task.name, metric.name) for task in tasks for metric in task.metrics}
    part = part[[(task, metric) in headline for task, metric in zip(part.task, part.metric, strict=True)]]
    if part.empty:
        return [], set()
    columns = [(task.name, metric) for task in tasks for metric in task.metrics]
    lines = [
        "", f"## {TITLE}", "",
        "Methods that embed text, scored on each dataset's test split as mean ± sample std (n seeds). Zero-shot: "
        "each image's class by its similarity to the class descriptions in the dataset's prompt templates, averaged "
        "over templates as CLIP does. I→T: each test image retrieves its own caption among the distinct test "
        "captions; T→I: each distinct test caption retrieves its images among the test images. R@k is CLIP_benchmark's "
        "recall@k, top-k% PAPERCLIP's retrieval accuracy; a tie with a non-match counts against the query. "
        "Recipe: the published recipe a method follows, re-trained here by our loop on the benchmark's data (no "
        "fine-tuned weights were published).",
    ]
    for dataset in sorted(part.dataset.unique()):
        table = metrics_table(part[part.dataset == dataset], columns, recipe=recipe_source)
        lines += ["", f"### {dataset}", "", str(table)]
    keys = [*ROW_KEYS, "dataset", "task", "metric", "fraction"]  # as Measured.key
    return lines, {tuple(row) for row in part[keys].itertuples(index=False)}
