"""Who leads a column, and whether the lead is larger than the seed spread: the one rule, stated once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SPREAD_RULE = (
    "a lead is clear when its gap to the runner-up is larger than the larger of the two sample standard "
    "deviations over seeds; with one seed on either side (n=1) the spread is unknown"
)


@dataclass(frozen=True)
class Entry:
    """One contender in a column: a row label and its mean, sample std and seed count."""

    label: str
    mean: float
    std: float
    n: int


def lead(entries: Sequence[Entry]) -> str:
    """One sentence: who leads (highest mean; ties go to the earlier entry), by how much, and the verdict."""
    if not entries:
        return "no runs"
    best, *others = sorted(entries, key=lambda entry: -entry.mean)
    if not others:
        return f"only **{best.label}** has runs: {best.mean:.4f}"
    second = others[0]
    gap = best.mean - second.mean
    text = f"**{best.label}** {best.mean:.4f} leads {second.label} {second.mean:.4f} by {gap:.4f}"
    if min(best.n, second.n) < 2:
        return f"{text}; n=1: spread unknown"
    spread = max(best.std, second.std)
    if gap > spread:
        return f"{text} > spread {spread:.4f}: a clear lead"
    return f"{text} ≤ spread {spread:.4f}: within the seed spread"
