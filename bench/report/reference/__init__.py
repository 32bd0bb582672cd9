"""The published numbers our leaderboards are set beside (``galaxalign.toml``), as typed tables."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Column:
    """One column of a paper table: our dataset name, our metric name, the training fraction."""

    dataset: str
    metric: str
    fraction: float = 1.0


@dataclass(frozen=True)
class PaperValue:
    value: float
    std: float | None = None  # only where the paper gives one


@dataclass(frozen=True)
class PaperRow:
    """A row of a paper table: its name in the paper, the run that reproduces it, the paper's values."""

    name: str
    method: str
    variant: str
    values: tuple[PaperValue | None, ...]  # one per column; None where the paper has no number


@dataclass(frozen=True)
class PaperTable:
    key: str
    title: str
    task: str
    columns: tuple[Column, ...]
    rows: tuple[PaperRow, ...]
    note: str = ""
    by_fraction: bool = False  # columns differ by training fraction (Figure 6), not only by metric
    extra_columns: tuple[Column, ...] = ()  # ours only, beside the paper's (e.g. another metric convention)

    def with_extra_columns(self) -> PaperTable:
        """The table as the leaderboard shows it: the paper's columns, then the extra ones (no paper values)."""
        if not self.extra_columns:
            return self
        pad = (None,) * len(self.extra_columns)
        rows = tuple(PaperRow(r.name, r.method, r.variant, (*r.values, *pad)) for r in self.rows)
        return PaperTable(self.key, self.title, self.task, (*self.columns, *self.extra_columns), rows, self.note,
                          self.by_fraction)


@dataclass(frozen=True)
class Figure6:
    """Figure 6's rows and metric; its columns are the fractions our runs have (the paper gives none)."""

    title: str
    task: str
    metric: str
    rows: tuple[PaperRow, ...]
    note: str

    def table(self, datasets: tuple[str, ...], fractions: list[float]) -> PaperTable:
        columns = tuple(Column(d, self.metric, f) for d in datasets for f in sorted(fractions))
        rows = tuple(PaperRow(r.name, r.method, r.variant, (None,) * len(columns)) for r in self.rows)
        return PaperTable("figure6", self.title, self.task, columns, rows, self.note, by_fraction=True)


# A setting as the reference file gives it: one text, or one per method or per dataset.
Setting = str | dict[str, str]


@dataclass(frozen=True)
class PaperAspect:
    """The paper's setting of one aspect of a protocol (e.g. the batch size), and where it is stated.

    ``expect`` is what our records show when we match it; None when the source does not state the
    setting exactly enough to compare."""

    paper: Setting
    source: str
    expect: Setting | None = None

    def paper_for(self, key: str) -> str | None:
        return self.paper if isinstance(self.paper, str) else self.paper.get(key)

    def expect_for(self, key: str) -> str | None:
        return self.expect if self.expect is None or isinstance(self.expect, str) else self.expect.get(key)


@dataclass(frozen=True)
class Protocol:
    """How the paper's numbers of a group of methods were made: the adaptation its numbers are set
    beside (and why), and the paper's setting of each aspect."""

    key: str
    title: str
    methods: tuple[str, ...]
    adapt: str
    reason: str
    aspects: dict[str, PaperAspect]


@dataclass(frozen=True)
class Reference:
    title: str
    version: str  # the paper version the numbers come from
    datasets: dict[str, str]  # our dataset name -> the paper's column name
    tables: tuple[PaperTable, ...]
    figure6: Figure6
    protocols: tuple[Protocol, ...]
    data_aspects: dict[str, PaperAspect]  # shared by every protocol
    metric_aspects: dict[str, PaperAspect]  # task -> the paper's metric convention

    def protocol_of(self, method: str) -> Protocol | None:
        return next((protocol for protocol in self.protocols if method in protocol.methods), None)


def _row(raw: dict[str, Any], n_columns: int, table: str) -> PaperRow:
    values, stds = raw["values"], raw.get("stds", [None] * len(raw["values"]))
    if not len(values) == len(stds) == n_columns:
        raise ValueError(f"{table} row {raw['name']!r}: {len(values)} values, {len(stds)} stds, {n_columns} columns")
    return PaperRow(raw["name"], raw["method"], raw.get("variant", "default"),
                    tuple(PaperValue(v, s) for v, s in zip(values, stds, strict=True)))


def _table(raw: dict[str, Any]) -> PaperTable:
    columns = tuple(Column(*name.split()) for name in raw["columns"])
    rows = tuple(_row(row, len(columns), raw["key"]) for row in raw["rows"])
    extra = tuple(Column(*name.split()) for name in raw.get("extra_columns", ()))
    return PaperTable(raw["key"], raw["title"], raw["task"], columns, rows, raw.get("note", ""), extra_columns=extra)


def _aspects(raw: dict[str, Any]) -> dict[str, PaperAspect]:
    return {name: PaperAspect(**value) for name, value in raw.items()}


def _protocols(raw: dict[str, Any]) -> tuple[Protocol, ...]:
    """The protocols, each with the aspects of its ``base`` that it does not set itself."""
    def aspects(key: str) -> dict[str, PaperAspect]:
        own = _aspects(raw[key].get("aspects", {}))
        return {**aspects(raw[key]["base"]), **own} if "base" in raw[key] else own

    return tuple(Protocol(key, value["title"], tuple(value["methods"]), value["adapt"], value["reason"], aspects(key))
                 for key, value in raw.items())


@cache
def load_reference(name: str = "galaxalign") -> Reference:
    """The reference file ``bench/report/reference/<name>.toml``."""
    raw = tomllib.loads(resources.files(__package__).joinpath(f"{name}.toml").read_text())
    tables = tuple(_table(table) for table in raw["tables"])
    figure = raw["figure6"]
    by_name = {row.name: row for table in tables if table.key == figure["rows_from"] for row in table.rows}
    figure6 = Figure6(figure["title"], figure["task"], figure["metric"],
                      tuple(by_name[name] for name in figure["rows"]), figure["note"])
    return Reference(raw["title"], raw["version"], dict(raw["datasets"]), tables, figure6, _protocols(raw["protocols"]),
                     _aspects(raw["data"]), _aspects(raw["metrics"]))
