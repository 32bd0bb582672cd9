"""A dry run: what a grid holds, what is done, and how long the rest will take."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from bench.api.data import DataOptions
from bench.api.spec import RunSpec
from bench.grid.estimate import Throughput, device_type, from_perf_file, from_records, workload
from bench.run import claims
from bench.run.store import ResultStore

STATES = ("done", "running", "failed", "to run")  # failed cells are retried: they are still to run


@dataclass(frozen=True)
class Plan:
    """A grid's cells, each with its state and estimated seconds (None: no throughput or size known)."""

    cells: list[tuple[RunSpec, str, float | None]]
    throughputs: dict[str, Throughput]
    notes: list[str]  # why a throughput source was not used
    device: str


def make_plan(
    specs: list[RunSpec], store: ResultStore, data: DataOptions, device: str, perf_file: Path
) -> Plan:
    """The state of every cell in ``store`` and the time the unfinished ones should take on ``device``.

    The specs share one profile, as `bench run` makes them; throughput is looked up for it.
    """
    kind = device_type(device)
    if not specs:
        return Plan([], {}, [], kind)
    measured, note = from_perf_file(perf_file, kind, specs[0].profile)
    throughputs = {**from_records(store.records(), kind, specs[0].profile), **measured}
    notes = [note] if note else []
    cells = []
    for spec in specs:
        state = _state(spec, store)
        seconds = None
        if state not in ("done", "running") and spec.method in throughputs:
            work = workload(spec, data)
            seconds = work.seconds(throughputs[spec.method]) if work else None
        cells.append((spec, state, seconds))
    return Plan(cells, throughputs, notes, kind)


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
    groups: dict[tuple[str, str, str, str], list[tuple[RunSpec, str, float | None]]] = {}
    rank = {method: i for i, method in enumerate(dict.fromkeys(spec.method for spec, _, _ in plan.cells))}
    for cell in sorted(plan.cells, key=lambda cell: (rank[cell[0].method], cell[0].dataset)):
        spec = cell[0]
        groups.setdefault((spec.method, spec.dataset, spec.variant, spec.adapt), []).append(cell)
    table = Table(title=f"Grid plan ({len(plan.cells)} cells)")
    for header in ("method", "dataset", "variant", "adapt", "fractions", "seeds", "cells", *STATES, "time left",
                   "throughput from"):
        table.add_column(header)
    for (method, dataset, variant, adapt), cells in groups.items():
        states = Counter(state for _, state, _ in cells)
        fractions = ",".join(f"{f:g}" for f in sorted({spec.fraction for spec, _, _ in cells}))
        seeds = ",".join(str(s) for s in sorted({spec.seed for spec, _, _ in cells}))
        source = plan.throughputs[method].source if method in plan.throughputs else "[yellow]none[/]"
        table.add_row(method, dataset, variant, adapt, fractions, seeds, str(len(cells)),
                      *(str(states[state]) for state in STATES), _left(cells), source)
    return table


def plan_summary(plan: Plan) -> list[str]:
    """Lines under the table: counts, the total estimate, and what it lacks."""
    states = Counter(state for _, state, _ in plan.cells)
    unfinished = [(spec, seconds) for spec, state, seconds in plan.cells if state in ("failed", "to run")]
    estimated = [seconds for _, seconds in unfinished if seconds is not None]
    unknown = sorted({spec.method for spec, seconds in unfinished if seconds is None})
    lines = [
        f"{len(plan.cells)} cells: {states['done']} done, {states['running']} being run by another process, "
        f"{len(unfinished)} to run ({states['failed']} of them failed before and will be retried)",
        *plan.notes,
    ]
    if estimated:
        lines.append(
            f"estimated time left on {plan.device}: {_duration(sum(estimated))} for the {len(estimated)} of "
            f"{len(unfinished)} cells with a measured throughput (an upper bound: early stopping may end runs sooner)"
        )
    if unknown:
        lines.append(
            f"no estimate for {', '.join(unknown)}: no throughput measured on {plan.device} under this profile "
            "(run `bench perf`, or finish one run of each), or the dataset's size is unknown"
        )
    return lines


def _left(cells: list[tuple[RunSpec, str, float | None]]) -> str:
    unfinished = [seconds for _, state, seconds in cells if state in ("failed", "to run")]
    if not unfinished:
        return "-"
    if any(seconds is None for seconds in unfinished):
        return "?"
    return _duration(sum(s for s in unfinished if s is not None))


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
