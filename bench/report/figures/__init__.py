"""The report's figures: PNGs drawn from run records, their saved test outputs and the test images."""

from bench.report.figures.write import FIGURE_KINDS, write_figures

__all__ = ["FIGURE_KINDS", "write_figures"]
