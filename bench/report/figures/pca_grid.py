"""The paper's Figure 5: test galaxies laid out on a regular grid by the 2-D PCA of their embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.patches import Patch
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.decomposition import PCA

from bench.api.data import GalaxyData
from bench.report.figures.select import Featured
from bench.report.figures.style import Colour, class_colours, legend_columns, new_figure, save, styled
from bench.report.figures.thumbnails import thumbnails

MAX_SIDE = 14  # at most 14 x 14 thumbnails
THUMB = 64  # pixels per thumbnail, class-coloured border included
BORDER = 4


def rank_scale(values: np.ndarray) -> np.ndarray:
    """Each column's ranks mapped to [0, 1], so the points spread evenly over the grid."""
    ranks = np.argsort(np.argsort(values, axis=0, kind="stable"), axis=0, kind="stable")
    return ranks / max(len(values) - 1, 1)


def grid_assignment(points: np.ndarray, side: int) -> np.ndarray:
    """For each of the side x side cells (row-major, row 0 at the bottom) the index of the point
    placed there: the assignment minimising the total squared distance between rank-scaled
    2-D points and cell centres (every cell one distinct point; extra points are left out)."""
    steps = np.linspace(0.0, 1.0, side)
    cells = np.array([(x, y) for y in steps for x in steps])
    cell_rows, point_of_cell = linear_sum_assignment(cdist(cells, rank_scale(points), "sqeuclidean"))
    return point_of_cell[np.argsort(cell_rows)]


def mosaic(images: np.ndarray, labels: np.ndarray, side: int, colours: list[Colour]) -> np.ndarray:
    """One image: ``images`` in grid order (row 0 at the bottom), each framed in its class colour."""
    canvas = np.full((side * THUMB, side * THUMB, 3), 255, np.uint8)
    for cell, (image, label) in enumerate(zip(images, labels, strict=True)):
        row, column = side - 1 - cell // side, cell % side
        tile = np.empty((THUMB, THUMB, 3), np.uint8)
        tile[:] = (np.array(colours[label][:3]) * 255).astype(np.uint8)
        tile[BORDER:-BORDER, BORDER:-BORDER] = image
        canvas[row * THUMB : (row + 1) * THUMB, column * THUMB : (column + 1) * THUMB] = tile
    return canvas


@styled
def plot(featured: Featured, test: GalaxyData, dataset: str, path: Path) -> Path | None:
    """The grid for the featured run's saved embeddings; None when it has none or fewer than 4 test images."""
    run = featured.run
    if run.artifacts is None or run.artifacts.embeddings is None or len(run.artifacts.labels) < 4:
        return None
    pca = PCA(n_components=2, svd_solver="full", random_state=0)
    points = pca.fit_transform(run.artifacts.embeddings.astype(np.float32))
    side = min(MAX_SIDE, int(np.sqrt(len(points))))
    placed = grid_assignment(points, side)
    labels = run.artifacts.labels[placed]
    images = thumbnails(test, run.artifacts.indices[placed], THUMB - 2 * BORDER)
    colours = class_colours(len(run.class_names))
    width = 10.0
    figure = new_figure(width, 11.0)
    axes = figure.subplots()
    axes.imshow(mosaic(images, labels, side, colours), interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
    explained = pca.explained_variance_ratio_ * 100
    axes.set_xlabel(f"PC 1 ({explained[0]:.0f}% of variance) →")
    axes.set_ylabel(f"PC 2 ({explained[1]:.0f}% of variance) →")
    figure.suptitle(
        f"Test galaxies placed by the PCA of {run.method} embeddings: {dataset}\n"
        f"{side * side} of {len(points)} test images; border colour = true class\n{run.method} {featured.reason}"
    )
    handles = [Patch(facecolor=colour, label=name) for colour, name in zip(colours, run.class_names, strict=True)]
    figure.legend(
        handles=handles, loc="outside lower center", ncols=legend_columns(width, len(handles)), title="true class"
    )
    return save(figure, path)
