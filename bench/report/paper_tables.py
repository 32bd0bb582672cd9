"""The paper's tables with our numbers beside its own: one markdown table per (paper table, source of ours)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from bench.api import registry
from bench.api.errors import BenchError
from bench.api.method import ADAPT_TITLES
from bench.api.profiles import PROFILES
from bench.report.comparability import PlacedRun, card, differences
from bench.report.reference import Column, PaperTable, PaperValue, Reference
from bench.report.summary import Entry, lead
from bench.report.tables import format_cell, markdown_table
from bench.run.frame import settings_label, used_init
from bench.run.record import RunRecord


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
    """Our mean, sample std, seed count and collapsed runs of one metric of one run setting: a row of
    ``tables.summarise``."""

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
    collapsed: int = 0

    @property
    def key(self) -> tuple[object, ...]:
        """Everything but the numbers (a NaN std would make the whole object unequal to itself)."""
        return (*self.run_key[:8], self.metric, self.fraction)

    @property
    def run_key(self) -> tuple[object, ...]:
        """The run setting, dataset, task and fraction: the key without the metric."""
        return (self.method, self.variant, self.adapt, self.init, self.profile, self.settings, self.dataset,
                self.task, self.fraction)


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


def place_runs(records: Iterable[RunRecord], reference: Reference) -> dict[Source, list[PlacedRun]]:
    """The successful records whose dataset stands for one of the paper's, by source."""
    found: dict[Source, list[PlacedRun]] = defaultdict(list)
    for record in records:
        where = locate(record.spec.profile, record.spec.dataset, reference.datasets)
        if record.status == "ok" and where is not None:
            found[where[0]].append(PlacedRun(record, where[1]))
    return dict(found)


# (row index in the paper table, adaptation, init) -> column -> our measurement
Line = tuple[int, str, str]
Cells = dict[Line, dict[Column, Measured]]


def alias_row(table: PaperTable, index: int, init: str) -> int | None:
    """The row whose runs row ``index`` shares under ``init``: a variant identical to another under random
    init (MethodCard.random_init_aliases) is not run separately there."""
    row = table.rows[index]
    if init != "random":
        return None
    try:
        aliases = dict(registry.method_card(row.method).random_init_aliases)
    except BenchError:  # a method not installed here
        return None
    twin = aliases.get(row.variant)
    return next((i for i, other in enumerate(table.rows) if (other.method, other.variant) == (row.method, twin)), None)


def cells_by_source(table: PaperTable, placed: list[Placed]) -> dict[Source, Cells]:
    """Our measurements in ``table``: nothing set by hand, the row's method and variant, the column's paper
    dataset, metric and fraction; one line per adaptation and init, split by source. A row that shares
    another's runs under random init (alias_row) shows those."""
    rows = {(row.method, row.variant): index for index, row in enumerate(table.rows)}
    columns = set(table.columns)
    found: dict[Source, Cells] = defaultdict(lambda: defaultdict(dict))
    for item in placed:
        m = item.measured
        column = Column(item.paper_dataset, m.metric, m.fraction)
        row = rows.get((m.method, m.variant))
        if m.task == table.task and not m.settings and row is not None and column in columns:
            found[item.source][(row, m.adapt, m.init)][column] = m
    twins = {index: twin for index in range(len(table.rows)) if (twin := alias_row(table, index, "random")) is not None}
    for cells in found.values():
        for (row, adapt, init), by_column in list(cells.items()):
            for index in (index for index, twin in twins.items() if twin == row and init == "random"):
                cells[(index, adapt, init)] = by_column
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


DIFFERS_MARK = "†"


def cell(ours: Measured | None, paper: PaperValue | None, differs: bool = False) -> str:
    """'ours · paper · Δ', leaving out the parts that do not exist; the Δ is marked † when the line's
    protocol differs from the paper's."""
    parts = [format_cell(ours.mean, ours.std, ours.count, ours.collapsed)] if ours else []
    parts += [paper_text(paper)] if paper else []
    parts += [f"Δ {signed(ours.mean - paper.value)}" + (DIFFERS_MARK if differs else "")] if ours and paper else []
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
        inits = ", ".join(sorted({init for _, _, init in cells}))
        lines += ["", f"> **Synthetic stand-ins, not the paper's data**, init {inits}: the Δ only shows that the "
                      "machinery works, not how the methods compare with the paper."]
    return lines


def line_name(table: PaperTable, line: Line) -> str:
    """'MAE · frozen': the paper's row name and the adaptation of our runs."""
    index, adapt, _ = line
    return f"{table.rows[index].name} · {ADAPT_TITLES.get(adapt, adapt)}"


def leads(table: PaperTable, cells: Cells, names: dict[str, str]) -> list[str]:
    """One line per column: our leader and its verdict, and the paper's leader where the paper has numbers (a
    row that only shares another's runs does not compete)."""
    several_inits = len({init for _, _, init in cells}) > 1
    lines = []
    for index, column in enumerate(table.columns):
        entries = [Entry(line_name(table, line) + (f" ({line[2]})" if several_inits else ""), m.mean, m.std, m.count)
                   for line, by_column in sorted(cells.items())
                   if (m := by_column.get(column)) and alias_row(table, line[0], line[2]) is None]
        text = f"- {column_title(table, column, names)}: {lead(entries)}"
        paper = [(row.name, value.value) for row in table.rows if (value := row.values[index]) is not None]
        if paper:
            best = max(value for _, value in paper)
            text += f" (paper: {', '.join(name for name, value in paper if value == best)} {best:.4f})"
        lines.append(text + ".")
    return lines


def paper_adapt(reference: Reference, method: str) -> str:
    """The adaptation of ours that the paper's numbers of ``method`` sit beside (full when not named)."""
    protocol = reference.protocol_of(method)
    return protocol.adapt if protocol else "full"


def line_runs(table: PaperTable, line: Line, runs: list[PlacedRun]) -> list[PlacedRun]:
    """The records behind one table line: its method, variant (or the row it shares runs with), adaptation
    and init, nothing set by hand, on the table's datasets and fractions."""
    index, adapt, init = line
    twin = alias_row(table, index, init)
    row = table.rows[index if twin is None else twin]
    datasets, fractions = {c.dataset for c in table.columns}, {c.fraction for c in table.columns}

    def belongs(run: PlacedRun) -> bool:
        spec = run.record.spec
        return ((spec.method, spec.variant, spec.adapt) == (row.method, row.variant, adapt)
                and used_init(run.record) == init and not settings_label(spec)
                and run.paper_dataset in datasets and spec.fraction in fractions)

    return [run for run in runs if belongs(run)]


ALIAS_MARK = "‡"


def render(
    table: PaperTable, source: Source | None, cells: Cells, reference: Reference, runs: list[PlacedRun]
) -> list[str]:
    """Markdown lines for one paper table and one source: heading, comparability card, the table (every paper
    row, one line per adaptation and init our runs used; the paper's numbers beside the adaptation its
    protocol names), its notes, and the lead of every column."""
    names = reference.datasets
    body, aliases = [], []
    beside: dict[str, list[PlacedRun]] = defaultdict(list)  # protocol key -> runs the paper's numbers sit beside
    for index, row in enumerate(table.rows):
        protocol, own = reference.protocol_of(row.method), paper_adapt(reference, row.method)
        for adapt, init in sorted({(a, i) for r, a, i in cells if r == index}) or [(own, "")]:
            line, ours = (index, adapt, init), cells.get((index, adapt, init), {})
            differs: list[str] = []
            if adapt == own and ours and protocol is not None:
                behind = line_runs(table, line, runs)
                beside[protocol.key] += [run for run in behind if run not in beside[protocol.key]]
                differs = differences(protocol, behind, reference)
            name = line_name(table, line)
            if ours and (twin := alias_row(table, index, init)) is not None:
                name += f" {ALIAS_MARK}"
                aliases.append(f"{ALIAS_MARK} {table.rows[index].name}: identical by construction to "
                               f"{table.rows[twin].name} under random init, so the grid runs it once and both "
                               "rows show the same runs.")
            paper = row.values if adapt == own else (None,) * len(row.values)
            verdict = ", ".join(differs) if differs else ("none stated exactly" if adapt == own and ours else "")
            body.append([name, init, *(cell(ours.get(column), value, bool(differs))
                                       for column, value in zip(table.columns, paper, strict=True)), verdict])
    protocols = [p for p in reference.protocols if any(reference.protocol_of(r.method) == p for r in table.rows)]
    headers = ["Method", "Init", *(column_title(table, column, names) for column in table.columns),
               "Protocol differs from the paper's in"]
    datasets = list(dict.fromkeys(column.dataset for column in table.columns))
    lines = [*source_heading(source, table, cells, names), "",
             *card(protocols, beside, table.task, datasets, reference), "", markdown_table(headers, body)]
    if any(row[-1] and DIFFERS_MARK in " ".join(row) for row in body):
        lines += ["", f"{DIFFERS_MARK} our line's protocol differs from the paper's in the aspects named in the last "
                      "column (see the card), so its Δ does not compare like with like."]
    lines += ["", *dict.fromkeys(aliases)] if aliases else []
    if cells:
        lines += ["", "Leads:", "", *leads(table, cells, names)]
    return lines
