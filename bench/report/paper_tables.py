"""The paper's tables with our numbers beside its own: one markdown table per (paper table, source of ours)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import astuple, dataclass

import pandas as pd

from bench.api import registry
from bench.api.profiles import PROFILES
from bench.report.reference import Column, PaperTable, PaperValue, Reference
from bench.report.summary import Entry, lead
from bench.report.tables import format_cell, markdown_table


@dataclass(frozen=True)
class Source:
    """Where our numbers in a paper table come from: a profile, and the datasets that stand for the paper's."""

    profile: str
    stand_in: bool  # synthetic look-alikes (DatasetInfo.synthetic), not the paper's data
    # The N of ``demo:N`` ('' for none; for real data: the paper's dataset itself); None: the profile's
    # own dataset for each paper dataset (Profile.stand_ins: a synthetic look-alike, or another version).
    size: str | None

    def __lt__(self, other: Source) -> bool:
        """Sources sort by profile, real data first, the profile's own datasets first, then by size."""
        def key(source: Source) -> tuple[str, bool, bool, str]:
            return source.profile, source.stand_in, source.size is not None, source.size or ""

        return key(self) < key(other)

    def dataset_for(self, paper_dataset: str) -> str:
        name = PROFILES[self.profile].dataset_for(paper_dataset)
        if self.size is None:
            return name
        if not self.stand_in:
            return paper_dataset
        base = name.partition(":")[0]
        return f"{base}:{self.size}" if self.size else base


def locate(profile: str, dataset: str, paper_datasets: Iterable[str]) -> tuple[Source, str] | None:
    """The source, and the paper dataset, that runs on ``dataset`` under ``profile`` stand for; None if none."""
    if profile not in PROFILES:
        return None
    paper = PROFILES[profile].paper_dataset_of(dataset)
    if paper not in paper_datasets:
        return None
    base, _, size = dataset.partition(":")
    own_stand_in = dataset == PROFILES[profile].dataset_for(paper)
    return Source(profile, registry.dataset_info(base).synthetic, None if own_stand_in else size), paper


@dataclass(frozen=True)
class Measured:
    """Our mean, sample std and seed count of one metric of one run setting: a row of ``tables.summarise``."""

    method: str
    variant: str
    adapt: str
    init: str
    profile: str
    settings: str
    dataset: str
    task: str
    metric: str
    fraction: float
    mean: float
    std: float
    count: int

    @property
    def key(self) -> tuple[object, ...]:
        """Everything but the numbers (a NaN std would make the whole object unequal to itself)."""
        return astuple(self)[:-3]

    @property
    def run_key(self) -> tuple[object, ...]:
        """The run setting, dataset, task and fraction: the key without the metric."""
        return (*astuple(self)[:8], self.fraction)


@dataclass(frozen=True)
class Placed:
    """A measurement that stands for a paper dataset."""

    measured: Measured
    source: Source
    paper_dataset: str


def measurements(summary: pd.DataFrame) -> list[Measured]:
    return [Measured(**row) for row in summary.to_dict("records")]


def place(measured: list[Measured], reference: Reference) -> list[Placed]:
    """The measurements whose dataset stands for one of the paper's under their profile."""
    return [Placed(m, *found) for m in measured if (found := locate(m.profile, m.dataset, reference.datasets))]


# (row index in the paper table, init) -> column -> our measurement
Cells = dict[tuple[int, str], dict[Column, Measured]]


def cells_by_source(table: PaperTable, placed: list[Placed]) -> dict[Source, Cells]:
    """Our measurements in ``table``: default settings (full fine-tune, nothing set by hand), the row's
    method and variant, the column's paper dataset, metric and fraction; split by source."""
    rows = {(row.method, row.variant): index for index, row in enumerate(table.rows)}
    columns = set(table.columns)
    found: dict[Source, Cells] = defaultdict(lambda: defaultdict(dict))
    for item in placed:
        m = item.measured
        column = Column(item.paper_dataset, m.metric, m.fraction)
        row = rows.get((m.method, m.variant))
        if m.task == table.task and m.adapt == "full" and not m.settings and row is not None and column in columns:
            found[item.source][(row, m.init)][column] = m
    return dict(found)


def sections(table: PaperTable, placed: list[Placed]) -> list[tuple[Source | None, PaperTable, Cells]]:
    """(source, table, our cells) for every source with runs in ``table``; the paper's numbers alone if none."""
    found = sorted(cells_by_source(table, placed).items())
    return [(source, table, cells) for source, cells in found] or [(None, table, {})]


def figure6_sections(reference: Reference, placed: list[Placed]) -> list[tuple[Source | None, PaperTable, Cells]]:
    """Figure 6 as tables, one per source with runs, each with the training fractions that source has."""
    figure, datasets = reference.figure6, tuple(reference.datasets)
    every_fraction = figure.table(datasets, sorted({item.measured.fraction for item in placed}))
    found: list[tuple[Source | None, PaperTable, Cells]] = []
    for source, cells in sorted(cells_by_source(every_fraction, placed).items()):
        columns = {column for by_column in cells.values() for column in by_column}
        present = tuple(d for d in datasets if any(column.dataset == d for column in columns))
        found.append((source, figure.table(present, sorted({column.fraction for column in columns})), cells))
    return found


def signed(value: float) -> str:
    return f"{value:+.4f}".replace("-", "−")


def paper_text(value: PaperValue) -> str:
    return f"paper {value.value:.4f}" + (f" ± {value.std:.4f}" if value.std is not None else "")


def cell(ours: Measured | None, paper: PaperValue | None) -> str:
    """'ours · paper · Δ', leaving out the parts that do not exist."""
    parts = [format_cell(ours.mean, ours.std, ours.count)] if ours else []
    parts += [paper_text(paper)] if paper else []
    parts += [f"Δ {signed(ours.mean - paper.value)}"] if ours and paper else []
    return " · ".join(parts)


def column_title(table: PaperTable, column: Column, names: dict[str, str]) -> str:
    title = f"{names[column.dataset]} {registry.task(table.task).metric(column.metric).title}"
    return f"{title} @ {column.fraction * 100:g}%" if table.by_fraction else title


def source_heading(source: Source | None, table: PaperTable, cells: Cells, names: dict[str, str]) -> list[str]:
    """Which profile and datasets our numbers come from (the datasets we have runs on, in column order)."""
    if source is None:
        return ["No runs of ours for this table yet: the paper's numbers only."]
    present = {column.dataset for by_column in cells.values() for column in by_column}
    datasets = [d for d in dict.fromkeys(column.dataset for column in table.columns) if d in present]
    data = ", ".join(f"`{source.dataset_for(d)}` for {names[d]}" for d in datasets)
    lines = [f"### Profile {source.profile}: {data}"]
    if source.stand_in:
        inits = ", ".join(sorted({init for _, init in cells}))
        lines += ["", f"> **Synthetic stand-ins, not the paper's data**, init {inits}: the Δ only shows that the "
                      "machinery works, not how the methods compare with the paper."]
    return lines


def leads(table: PaperTable, cells: Cells, names: dict[str, str]) -> list[str]:
    """One line per column: our leader and its verdict, and the paper's leader where the paper has numbers."""
    several_inits = len({init for _, init in cells}) > 1
    lines = []
    for index, column in enumerate(table.columns):
        entries = [Entry(table.rows[row].name + (f" ({init})" if several_inits else ""), m.mean, m.std, m.count)
                   for (row, init), by_column in sorted(cells.items()) if (m := by_column.get(column))]
        line = f"- {column_title(table, column, names)}: {lead(entries)}"
        paper = [(row.name, value.value) for row in table.rows if (value := row.values[index]) is not None]
        if paper:
            best = max(value for _, value in paper)
            line += f" (paper: {', '.join(name for name, value in paper if value == best)} {best:.4f})"
        lines.append(line + ".")
    return lines


def render(table: PaperTable, source: Source | None, cells: Cells, names: dict[str, str]) -> list[str]:
    """Markdown lines for one paper table and one source: heading, table (every paper row, one line per init
    our runs used), and the lead of every column."""
    body = []
    for index, row in enumerate(table.rows):
        for init in sorted({init for row_index, init in cells if row_index == index}) or [""]:
            ours = cells.get((index, init), {})
            values = zip(table.columns, row.values, strict=True)
            body.append([row.name, init, *(cell(ours.get(column), value) for column, value in values)])
    headers = ["Method", "Init", *(column_title(table, column, names) for column in table.columns)]
    lines = [*source_heading(source, table, cells, names), "", markdown_table(headers, body)]
    if cells:
        lines += ["", "Leads:", "", *leads(table, cells, names)]
    return lines
