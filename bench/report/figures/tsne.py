"""The paper's Figure 4: t-SNE of each method's test embeddings, points coloured by true class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D
from sklearn.manifold import TSNE

from bench.report.figures.select import Run
from bench.report.figures.style import class_colours, grid_shape, legend_columns, new_figure, panel_grid, save, styled

MAX_POINTS = 1000  # larger test sets are subsampled (the same images for every method): ~20-40 CPU s a panel
EXACT_UP_TO = 300  # exact t-SNE below this many points (faster there than Barnes-Hut)
SEED = 0
MAX_COLUMNS = 4


def tsne_2d(embeddings: np.ndarray) -> np.ndarray:
    """(N, 2) t-SNE of (N, D) embeddings; perplexity 30, or (N - 1) / 3 for small sets."""
    count = len(embeddings)
    tsne = TSNE(
        n_components=2,
        perplexity=min(30.0, (count - 1) / 3),
        init="pca",
        learning_rate="auto",
        method="exact" if count <= EXACT_UP_TO else "barnes_hut",
        random_state=SEED,
    )
    return np.asarray(tsne.fit_transform(embeddings.astype(np.float32)))


def sample(count: int) -> np.ndarray:
    """Indices of the points drawn: all, or a fixed random MAX_POINTS of them in order."""
    if count <= MAX_POINTS:
        return np.arange(count)
    return np.sort(np.random.default_rng(SEED).choice(count, MAX_POINTS, replace=False))


@styled
def plot(runs: list[Run], dataset: str, path: Path) -> Path | None:
    """One panel per run with saved embeddings and one shared class legend; None when there is none."""
    panels = [
        (run, run.artifacts.embeddings, run.artifacts.labels)
        for run in runs
        if run.artifacts is not None and run.artifacts.embeddings is not None and len(run.artifacts.labels) >= 4
    ]
    if not panels:
        return None
    class_names = panels[0][0].class_names
    colours = class_colours(len(class_names))
    rows, columns = grid_shape(len(panels), MAX_COLUMNS)
    width = 4.2 * columns
    figure = new_figure(width, 4.0 * rows + 1.0)
    total = len(panels[0][2])
    chosen = sample(total)
    for axes, (run, embeddings, labels) in zip(panel_grid(figure, len(panels), MAX_COLUMNS), panels, strict=True):
        points = tsne_2d(embeddings[chosen])
        size = float(np.clip(3000 / len(points), 6, 40))
        axes.scatter(points[:, 0], points[:, 1], c=[colours[label] for label in labels[chosen]], s=size, linewidths=0)
        axes.set_title(run.label)
        axes.set_xlabel("t-SNE 1")
        axes.set_ylabel("t-SNE 2")
        axes.set_xticks([])
        axes.set_yticks([])
    subset = f"all {total}" if len(chosen) == total else f"{len(chosen)} of {total}"
    figure.suptitle(f"t-SNE of test embeddings: {dataset} ({subset} test images, 100% training data)")
    handles = [Line2D([], [], marker="o", linestyle="", color=colour, markersize=8) for colour in colours]
    figure.legend(
        handles,
        class_names,
        loc="outside lower center",
        ncols=legend_columns(width, len(class_names)),
        title="true class",
    )
    return save(figure, path)
