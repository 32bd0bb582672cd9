"""Shared look of the report's figures: Agg canvases, readable fonts, class colours, saving."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 11,
    "figure.titlesize": 14,
}
DPI = 120

P = ParamSpec("P")
R = TypeVar("R")


def styled(draw: Callable[P, R]) -> Callable[P, R]:
    """Run ``draw`` with the report's fonts (matplotlib's global style is left as it was)."""

    @wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


def new_figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas (no pyplot state: nothing to close, nothing leaks)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, metadata={"Software": None})
    figure.clear()
    return path


def grid_shape(count: int, max_columns: int) -> tuple[int, int]:
    """Rows and columns for ``count`` panels: as few rows as ``max_columns`` allows, filled evenly."""
    rows = math.ceil(count / max_columns)
    return rows, math.ceil(count / rows)


def panel_grid(figure: Figure, count: int, max_columns: int) -> list[Axes]:
    """``count`` subplots laid out by ``grid_shape``; the unused cells of the last row hidden."""
    rows, columns = grid_shape(count, max_columns)
    axes = list(figure.subplots(rows, columns, squeeze=False).ravel())
    for unused in axes[count:]:
        unused.set_visible(False)
    return axes[:count]


Colour = tuple[float, float, float, float]


def class_colours(count: int) -> list[Colour]:
    """One distinct colour per class (tab10 up to 10 classes, tab20 up to 20, then a continuous map)."""
    name = "tab10" if count <= 10 else "tab20" if count <= 20 else "turbo"
    cmap = matplotlib.colormaps[name]
    return [cmap(i if count <= 20 else i / max(count - 1, 1)) for i in range(count)]


def legend_columns(width: float, entries: int, entry_width: float = 3.0) -> int:
    """How many legend columns of about ``entry_width`` inches fit in a ``width``-inch figure."""
    return max(1, min(entries, int(width // entry_width)))


def slug(text: str) -> str:
    """``text`` as a file-name part (``demo:20`` -> ``demo_20``)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)
