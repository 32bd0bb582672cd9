"""Records -> the leaderboard: the paper's tables with our numbers beside them, every other run, figures."""

from bench.report.page import leaderboard_markdown, write_report
from bench.report.tables import markdown_table

__all__ = ["leaderboard_markdown", "markdown_table", "write_report"]
