"""A dry run: what a grid holds, what is done, and how long the rest will take."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from rich.table import Table

from bench.api.data import DataOptions
from bench.api.spec import RunSpec
from bench.grid.estimate import (
    CellTime,
    Throughput,
    cell_key,
    cell_times,
    device_type,
    from_perf_file,
    from_records,
    from_timings_file,
    workload,
)
from bench.run import claims
from bench.run.store import ResultStore

STATES = ("done", "running", "failed", "to run")  # failed cells are retried: they are still to run


class Cell(NamedTuple):
    """One cell of a plan: its state, estimated seconds (None: nothing measured to go by), their source, and
    whether they are a throughput-based upper bound rather than the time of finished runs of the cell."""

    spec: RunSpec
    state: str
    seconds: float | None
    source: str | None = None
    upper_bound: bool = False


@dataclass(frozen=True)
class Plan:
    """A grid's cells, each with its state and estimated seconds."""

    cells: list[Cell]
    throughputs: dict[str, Throughput]
    notes: list[str]  # why a throughput source was not used
    device: str


def make_plan(
    specs: list[RunSpec], store: ResultStore, data: DataOptions, device: str, perf_file: Path,
    timings_file: Path | None = None,
) -> Plan:
    """The state of every cell in ``store`` and the time the unfinished ones should take on ``device``,
    learnt from measurements in the order bench.grid.estimate describes.

    The specs share one profile, as `bench run` makes them; throughput is looked up for it.
    """
    kind = device_type(device)
    if not specs:
        return Plan([], {}, [], kind)
    records = list(store.records())
    times = {**(from_timings_file(timings_file, kind) if timings_file else {}), **cell_times(records, kind)}
    measured, note = from_perf_file(perf_file, kind, specs[0].profile)
    throughputs = {**measured, **from_records(records, kind, specs[0].profile)}
    notes = [note] if note else []
    cells = []
    for spec in specs:
        state = _state(spec, store)
        cells.append(Cell(spec, state, *_estimate(spec, times, throughputs, data)) if state in ("failed", "to run")
                     else Cell(spec, state, None))
    return Plan(cells, throughputs, notes, kind)


def _estimate(
    spec: RunSpec, times: dict[str, CellTime], throughputs: dict[str, Throughput], data: DataOptions
) -> tuple[float | None, str | None, bool]:
    """Seconds for one unfinished cell, where they come from, and whether they are a throughput-based
    upper bound (None, None, False: nothing measured)."""
    if (time := times.get(cell_key(spec))) is not None:
        return time.seconds, time.source, False
    if spec.method in throughputs and (work := workload(spec, data)) is not None:
        return work.seconds(throughputs[spec.method]), throughputs[spec.method].source, True
    return None, None, False


def _state(spec: RunSpec, store: ResultStore) -> str:
    if store.is_done(spec):
        return "done"
    path = store.path_for(spec)
    if claims.live_holder(path) is not None:
        return "running"
    record = store.load(spec)
    return "failed" if record is not None and record.status == "failed" else "to run"


def plan_table(plan: Plan) -> Table:
    """One row per method, dataset, variant and adaptation: its fractions, seeds, cell states and time left."""
    groups: dict[tuple[str, str, str, str], list[Cell]] = {}
    rank = {method: i for i, method in enumerate(dict.fromkeys(cell.spec.method for cell in plan.cells))}
    for cell in sorted(plan.cells, key=lambda cell: (rank[cell.spec.method], cell.spec.dataset)):
        spec = cell.spec
        groups.setdefault((spec.method, spec.dataset, spec.variant, spec.adapt), []).append(cell)
    table = Table(title=f"Grid plan ({len(plan.cells)} cells)")
    for header in ("method", "dataset", "variant", "adapt", "fractions", "seeds", "cells", *STATES, "time left",
                   "estimated from"):
        table.add_column(header)
    for (method, dataset, variant, adapt), cells in groups.items():
        states = Counter(cell.state for cell in cells)
        fractions = ",".join(f"{f:g}" for f in sorted({cell.spec.fraction for cell in cells}))
        seeds = ",".join(str(s) for s in sorted({cell.spec.seed for cell in cells}))
        sources = sorted({cell.source for cell in cells if cell.source})
        missing = any(cell.seconds is None and cell.state in ("failed", "to run") for cell in cells)
        source = "; ".join(sources + ["[yellow]none[/]"] * missing) or "-"
        table.add_row(method, dataset, variant, adapt, fractions, seeds, str(len(cells)),
                      *(str(states[state]) for state in STATES), _left(cells), source)
    return table


def plan_summary(plan: Plan) -> list[str]:
    """Lines under the table: counts, the total estimate, and what it lacks."""
    states = Counter(cell.state for cell in plan.cells)
    unfinished = [cell for cell in plan.cells if cell.state in ("failed", "to run")]
    estimated = [cell for cell in unfinished if cell.seconds is not None]
    from_throughput = sum(cell.upper_bound for cell in estimated)
    unknown = sorted({cell.spec.method for cell in unfinished if cell.seconds is None})
    lines = [
        f"{len(plan.cells)} cells: {states['done']} done, {states['running']} being run by another process, "
        f"{len(unfinished)} to run ({states['failed']} of them failed before and will be retried)",
        *plan.notes,
    ]
    if estimated:
        sources = [f"{len(estimated) - from_throughput} from finished runs of the same cell"]
        if from_throughput:
            sources.append(f"{from_throughput} from throughput, an upper bound: early stopping may end runs sooner")
        lines.append(
            f"estimated time left on {plan.device}: {duration(sum(cell.seconds or 0.0 for cell in estimated))} "
            f"for the {len(estimated)} of {len(unfinished)} cells with a measurement ({'; '.join(sources)})"
        )
    if unknown:
        lines.append(
            f"no estimate for {', '.join(unknown)}: no throughput measured on {plan.device} under this profile "
            "(run `bench perf`, or finish one run of each), or the dataset's size is unknown"
        )
    return lines


def _left(cells: list[Cell]) -> str:
    unfinished = [cell.seconds for cell in cells if cell.state in ("failed", "to run")]
    if not unfinished:
        return "-"
    if any(seconds is None for seconds in unfinished):
        return "?"
    return duration(sum(s for s in unfinished if s is not None))


def duration(seconds: float) -> str:
    """``seconds`` in s, min or h, whichever reads best."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
