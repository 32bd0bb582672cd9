"""The paper's Figure 7: query galaxies and their top-5 retrieved test galaxies."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from bench.api.data import GalaxyData
from bench.report.figures.select import Featured
from bench.report.figures.style import new_figure, save, styled

TOP = 5
MAX_QUERIES = 10
SAME, DIFFERENT = "#1a9850", "#d73027"  # border colours: same class as the query / another class


def queries(labels: np.ndarray) -> np.ndarray:
    """The first test image of each class (in class order), at most MAX_QUERIES of them."""
    return np.array([int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)][:MAX_QUERIES])


def top_matches(embeddings: np.ndarray, query: int, k: int = TOP) -> tuple[np.ndarray, np.ndarray]:
    """The k other rows most similar to row ``query`` by cosine similarity, as the retrieval metric
    ranks them (descending score, ties by index), and their scores."""
    normalised = embeddings.astype(np.float32)
    normalised /= np.maximum(np.linalg.norm(normalised, axis=1, keepdims=True), 1e-12)
    scores = normalised @ normalised[query]
    order = np.argsort(-scores, kind="stable")
    order = order[order != query][:k]
    return order, scores[order]


def _frame(axes: object, colour: str, width: float) -> None:
    for spine in axes.spines.values():  # type: ignore[attr-defined]
        spine.set_edgecolor(colour)
        spine.set_linewidth(width)


def _title(head: str, class_name: str) -> str:
    return head + "\n" + "\n".join(textwrap.wrap(class_name, 24))


@styled
def plot(featured: Featured, test: GalaxyData, dataset: str, path: Path) -> Path | None:
    """One row per query of the featured run: the query, then its top 5 framed green (same class) or
    red; None without saved embeddings or with fewer than TOP + 1 test images."""
    run = featured.run
    if run.artifacts is None or run.artifacts.embeddings is None or len(run.artifacts.labels) <= TOP:
        return None
    embeddings, labels, names = run.artifacts.embeddings, run.artifacts.labels, run.class_names
    rows = queries(labels)
    figure = new_figure(2.1 * (TOP + 1), 2.55 * len(rows) + 0.8)
    grid = figure.subplots(len(rows), TOP + 1, squeeze=False)
    for axes_row, query in zip(grid, rows, strict=True):
        matches, scores = top_matches(embeddings, query)
        images = test.read(run.artifacts.indices[np.concatenate([[query], matches])])
        for column, (axes, image) in enumerate(zip(axes_row, images, strict=True)):
            axes.imshow(image)
            axes.set_xticks([])
            axes.set_yticks([])
            if column == 0:
                axes.set_title(_title("query", names[labels[query]]), fontsize=10, fontweight="bold")
                _frame(axes, "black", 2.0)
                continue
            match = matches[column - 1]
            axes.set_title(_title(f"#{column}  cos {scores[column - 1]:.2f}", names[labels[match]]), fontsize=10)
            _frame(axes, SAME if labels[match] == labels[query] else DIFFERENT, 5.0)
    figure.suptitle(
        f"Retrieval with {run.method} embeddings: {dataset}\n"
        "each row: a query and its 5 nearest test galaxies; green border = same class, red = another class\n"
        f"{run.method} {featured.reason}"
    )
    return save(figure, path)
