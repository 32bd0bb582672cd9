"""Confusion matrices per method, normalised by row (true class), from the records' classify metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.report.figures.select import Run
from bench.report.figures.style import grid_shape, new_figure, panel_grid, save, styled

MAX_COLUMNS = 3
ANNOTATE_UP_TO = 12  # classes; bigger matrices get colours only


def row_normalised(counts: list[list[int]]) -> np.ndarray:
    """Each row divided by its total (rows without samples stay 0)."""
    matrix = np.asarray(counts, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def counts_of(run: Run) -> list[Any] | None:
    """The run's confusion matrix (true class x predicted class); None when its record has none."""
    counts = run.record.metrics.get("classify", {}).get("confusion_matrix")
    return counts if isinstance(counts, list) else None


@styled
def plot(runs: list[Run], dataset: str, path: Path) -> Path | None:
    """One panel per run that has a confusion matrix; None when none has."""
    drawn = [(run, counts) for run in runs if (counts := counts_of(run)) is not None]
    if not drawn:
        return None
    names = drawn[0][0].class_names
    rows, columns = grid_shape(len(drawn), MAX_COLUMNS)
    side = max(3.5, 0.45 * len(names))  # inches per matrix
    figure = new_figure(columns * (side + 2.2) + 1.0, rows * (side + 2.2) + 0.8)
    panels = panel_grid(figure, len(drawn), MAX_COLUMNS)
    images = []
    for axes, (run, counts) in zip(panels, drawn, strict=True):
        matrix = row_normalised(counts)
        images.append(axes.imshow(matrix, vmin=0.0, vmax=1.0, cmap="Blues"))
        if len(names) <= ANNOTATE_UP_TO:
            for (true, predicted), value in np.ndenumerate(matrix):
                if value > 0:  # empty cells stay blank, so the errors stand out
                    colour = "white" if value > 0.6 else "black"
                    axes.text(predicted, true, f"{value:.2f}", ha="center", va="center", fontsize=9, color=colour)
        ticks = np.arange(len(names))
        axes.set_xticks(ticks, names, rotation=45, ha="right", rotation_mode="anchor")
        axes.set_yticks(ticks, names)
        axes.set_xlabel("predicted class")
        axes.set_ylabel("true class")
        axes.set_title(f"{run.label}, accuracy {run.accuracy:.2f}")
    figure.suptitle(f"Confusion matrices: {dataset} (rows normalised: fraction of each true class)")
    figure.colorbar(images[-1], ax=panels, shrink=0.6, label="fraction of the true class")
    return save(figure, path)
