"""The 'ours vs reference' bookkeeping of the benchmarks: each benchmark group times ours and its
reference; the ratio per item goes into the reference's extra_info and is printed after the table
(by conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Result = TypeVar("Result")
SECONDS_PER_ITEM: dict[str, dict[str, float]] = {}  # group -> {"ours" | "reference": seconds per item}
ITEMS: dict[str, dict[str, int]] = {}  # group -> {"ours" | "reference": items timed}


def timed(
    benchmark: Any, group: str, role: str, items: int, run: Callable[[], Result], rounds: int | None = None
) -> Result:
    """``run`` benchmarked in ``group`` as ``role`` (ours or reference) over ``items`` items (images,
    queries); ``rounds`` fixes the number of runs of a slow reference."""
    benchmark.group = group
    result: Result = benchmark(run) if rounds is None else benchmark.pedantic(run, rounds=rounds, iterations=1)
    if benchmark.stats is None:  # --benchmark-disable: run once, nothing timed
        return result
    seconds = benchmark.stats.stats.mean / items
    SECONDS_PER_ITEM.setdefault(group, {})[role] = seconds
    ITEMS.setdefault(group, {})[role] = items
    benchmark.extra_info.update(role=role, items=items, seconds_per_item=seconds)
    times = SECONDS_PER_ITEM[group]
    if "ours" in times and "reference" in times:
        benchmark.extra_info["reference_over_ours"] = times["reference"] / times["ours"]
    return result
