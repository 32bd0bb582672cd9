"""The paper's Figure 6: test macro-F1 against the fraction of training data, one line per method.

Only Figure 6's methods are drawn (the rows of ``figure6`` in bench/report/reference), each under
its name in the paper, in one colour of its own, with default settings (nothing set by hand). A
method run under several adaptations gets one line per adaptation ("MAE · frozen", "MAE ·
fine-tuned"), each adaptation with its own line style and marker; a method's only adaptation is
named too when it is not full fine-tuning. Lines need two fractions or more. One (init, profile)
is drawn, named in the title: pretrained before random, the paper profile before others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from bench.api.method import ADAPT_TITLES, ADAPTS
from bench.report.figures.style import Colour, class_colours, new_figure, save, styled
from bench.report.reference import load_reference
from bench.run.frame import records_frame
from bench.run.record import RunRecord

LINE_KEYS = ["method", "variant", "adapt", "init", "profile", "settings"]
# (line style, marker) per adaptation, in ADAPTS order: full, linear, zoobot
ADAPT_STYLES = dict(zip(ADAPTS, [("-", "o"), ("--", "s"), (":", "^")], strict=True))


@dataclass(frozen=True)
class Curve:
    """One line of the figure: mean, std and seed count of macro-F1 by fraction (ascending)."""

    label: str
    colour: Colour
    adapt: str
    points: pd.DataFrame


def f1_by_fraction(records: list[RunRecord]) -> pd.DataFrame:
    """Mean, sample std and seed count of macro-F1 per run setting and fraction."""
    frame = records_frame(records)
    if frame.empty:
        return frame
    frame = frame[(frame.task == "classify") & (frame.metric == "macro_f1")]
    return frame.groupby([*LINE_KEYS, "fraction"])["value"].agg(["mean", "std", "count"]).reset_index()


def _preference(setting: tuple[str, str]) -> tuple[bool, bool, str, str]:
    init, profile = setting
    return init != "pretrained", profile != "paper", init, profile


def figure6_curves(records: list[RunRecord]) -> tuple[str, str, list[Curve]] | None:
    """(init, profile, curves) of Figure 6's methods among ``records``; None when no line has two fractions."""
    rows = load_reference().figure6.rows
    colours = class_colours(len(rows))  # one per row, so a method keeps its colour in every figure
    row_of = {(row.method, row.variant): index for index, row in enumerate(rows)}
    summary = f1_by_fraction(records)
    if summary.empty:
        return None
    summary = summary[summary.settings == ""].copy()
    summary["row"] = [row_of.get(key, -1) for key in zip(summary.method, summary.variant, strict=True)]
    summary = summary[summary.row >= 0]
    line = ["row", "adapt", "init", "profile"]
    summary = summary[summary.groupby(line)["fraction"].transform("nunique") >= 2]
    if summary.empty:
        return None
    init, profile = min(set(zip(summary.init, summary.profile, strict=True)), key=_preference)
    chosen = summary[(summary.init == init) & (summary.profile == profile)]
    adapts = chosen.groupby("row")["adapt"].unique()
    curves = []
    for (row, adapt), points in chosen.groupby(["row", "adapt"], sort=True):
        name = rows[row].name
        alone = len(adapts[row]) == 1 and adapt == "full"
        label = name if alone else f"{name} · {ADAPT_TITLES[adapt]}"
        curves.append(Curve(label, colours[row], adapt, points.sort_values("fraction")))
    return init, profile, curves


def seed_range(counts: set[int]) -> str:
    """'3' when every point has 3 seeds, '1–3' when they differ."""
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}–{high}"


@styled
def plot(records: list[RunRecord], dataset: str, path: Path) -> Path | None:
    """Figure 6 for one dataset's finished runs; None when no Figure 6 method has two fractions."""
    found = figure6_curves(records)
    if found is None:
        return None
    init, profile, curves = found
    figure = new_figure(7.5, 5.0)
    axes = figure.subplots()
    seeds: set[int] = set()
    for curve in curves:
        style, marker = ADAPT_STYLES[curve.adapt]
        points = curve.points
        seeds.update(int(n) for n in points["count"])
        axes.errorbar(
            points.fraction, points["mean"], yerr=points["std"].fillna(0.0), label=curve.label, color=curve.colour,
            linestyle=style, marker=marker, capsize=4, linewidth=1.8,
        )
    fractions = sorted({f for curve in curves for f in curve.points.fraction})
    axes.set_xscale("log")
    axes.xaxis.set_major_locator(FixedLocator(fractions))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value * 100:g}%"))
    axes.set_xlabel("training data used (fraction of the training split, log scale)")
    axes.set_ylabel("test macro-F1")
    spread = "one seed, no error bars" if max(seeds) == 1 else f"mean ± std over {seed_range(seeds)} seeds"
    axes.set_title(f"Figure 6, macro-F1 vs training data: {dataset}\n{init} init, {profile} profile ({spread})")
    axes.grid(True, alpha=0.3)
    if len(curves) <= 4:
        axes.legend(loc="best")
    else:
        figure.legend(loc="outside right upper")
    return save(figure, path)
