"""Shared by the benchmarks (bench_*.py, run by `nox -s perf`, not by the test session): after
pytest-benchmark's table, print each group's 'ours vs reference' ratio per item."""

from __future__ import annotations

import pytest
from ratios import ITEMS, SECONDS_PER_ITEM


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows = [(group, t) for group, t in SECONDS_PER_ITEM.items() if "ours" in t and "reference" in t]
    if not rows:
        return
    terminalreporter.section("ours vs reference (time per item)")
    for group, t in rows:
        n = ITEMS[group]
        terminalreporter.write_line(
            f"{group}: ours {t['ours'] * 1e6:,.1f} us per item ({n['ours']:,} timed), reference "
            f"{t['reference'] * 1e6:,.1f} us ({n['reference']:,} timed) -> ours / reference speed "
            f"{t['reference'] / t['ours']:,.2f}x"
        )
