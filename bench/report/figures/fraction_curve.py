"""The paper's Figure 6: test macro-F1 against the fraction of training data, one line per method."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from bench.report.figures.style import new_figure, save, styled
from bench.run.frame import records_frame
from bench.run.record import RunRecord

LINE_KEYS = ["method", "variant", "adapt", "init", "profile", "settings"]


def line_labels(keys: list[tuple[str, ...]]) -> list[str]:
    """A legend label per line: the method, plus only those settings that differ between lines."""
    varying = [i for i in range(1, len(LINE_KEYS)) if len({key[i] for key in keys}) > 1]
    labels = []
    for key in keys:
        extra = [f"{LINE_KEYS[i]} {key[i]}" if LINE_KEYS[i] != "settings" else key[i] or "defaults" for i in varying]
        labels.append(key[0] + (f" ({', '.join(extra)})" if extra else ""))
    return labels


def f1_by_fraction(records: list[RunRecord]) -> pd.DataFrame:
    """Mean, sample std and seed count of macro-F1 per line and fraction."""
    frame = records_frame(records)
    if frame.empty:
        return frame
    frame = frame[(frame.task == "classify") & (frame.metric == "macro_f1")]
    return frame.groupby([*LINE_KEYS, "fraction"])["value"].agg(["mean", "std", "count"]).reset_index()


def seed_range(counts: set[int]) -> str:
    """'3' when every point has 3 seeds, '1–3' when they differ."""
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}–{high}"


@styled
def plot(records: list[RunRecord], dataset: str, path: Path) -> Path | None:
    """Figure 6 for one dataset's finished runs; None when they cover fewer than two fractions."""
    summary = f1_by_fraction(records)
    if summary.empty or summary.fraction.nunique() < 2:
        return None
    lines = list(summary.groupby(LINE_KEYS, sort=True))
    figure = new_figure(7.5, 5.0)
    axes = figure.subplots()
    seeds: set[int] = set()
    for (_, line), label in zip(lines, line_labels([key for key, _ in lines]), strict=True):
        line = line.sort_values("fraction")
        seeds.update(int(n) for n in line["count"])
        axes.errorbar(
            line.fraction, line["mean"], yerr=line["std"].fillna(0.0), label=label, marker="o", capsize=4, linewidth=1.8
        )
    fractions = sorted(summary.fraction.unique())
    axes.set_xscale("log")
    axes.xaxis.set_major_locator(FixedLocator(fractions))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value * 100:g}%"))
    axes.set_xlabel("training data used (fraction of the training split, log scale)")
    axes.set_ylabel("test macro-F1")
    spread = "one seed, no error bars" if max(seeds) == 1 else f"mean ± std over {seed_range(seeds)} seeds"
    axes.set_title(f"Macro-F1 vs training data: {dataset}\n({spread})")
    axes.grid(True, alpha=0.3)
    if len(lines) <= 4:
        axes.legend(loc="best")
    else:
        figure.legend(loc="outside right upper")
    return save(figure, path)
