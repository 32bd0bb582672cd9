"""Time left in a grid: the cells' estimates, scaled by how the finished cells compared with theirs."""

from __future__ import annotations

from collections.abc import Sequence


class GridClock:
    """Tracks a grid's cells against their estimated seconds (None where nothing was measured).

    The time left is the unfinished cells' estimates times the ratio of actual to estimated time
    over the finished cells (1 before any finished); a cell without an estimate counts as the mean
    actual time of the finished cells. None while nothing at all is known.
    """

    def __init__(self, estimates: Sequence[float | None]) -> None:
        self.pending = list(estimates)
        self.finished, self.finished_seconds = 0, 0.0
        self.estimated, self.actual = 0.0, 0.0  # over the finished cells that had an estimate

    def finish(self, index: int, seconds: float) -> None:
        """Cell ``index`` (into the estimates) finished after ``seconds``."""
        estimate, self.pending[index] = self.pending[index], 0.0
        self.finished, self.finished_seconds = self.finished + 1, self.finished_seconds + seconds
        if estimate:
            self.estimated, self.actual = self.estimated + estimate, self.actual + seconds

    def skip(self, index: int) -> None:
        """Cell ``index`` did not run here (another process holds or finished it)."""
        self.pending[index] = 0.0

    def seconds_left(self) -> float | None:
        scale = self.actual / self.estimated if self.estimated else 1.0
        known = sum(estimate for estimate in self.pending if estimate)
        unknown = sum(estimate is None for estimate in self.pending)
        if unknown and not self.finished:
            return None
        mean = self.finished_seconds / self.finished if self.finished else 0.0
        return known * scale + unknown * mean

    def describe(self) -> str:
        """'left ~12:34' for the progress bar; 'left ?' while unknown."""
        left = self.seconds_left()
        if left is None:
            return "left ?"
        minutes, seconds = divmod(round(left), 60)
        hours, minutes = divmod(minutes, 60)
        return f"left ~{hours}:{minutes:02d}:{seconds:02d}" if hours else f"left ~{minutes}:{seconds:02d}"
