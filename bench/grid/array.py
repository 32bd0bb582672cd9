"""A grid as a job array: its unfinished cells packed into tasks by their estimated time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table

from bench.grid.plan import Cell, duration

HEADROOM = 0.9  # a task's cells are estimated to fill at most this share of its time limit
SHOWN_TASKS = 20  # rows of the plan table; the rest are summed in one row


@dataclass(frozen=True)
class TaskPlan:
    """The cells of one array task, in the order it runs them."""

    cells: list[Cell]

    @property
    def seconds(self) -> float | None:
        """The sum of its cells' estimates; None when one has none."""
        times = [cell.seconds for cell in self.cells]
        return None if any(t is None for t in times) else sum(t for t in times if t is not None)


def pack(cells: Sequence[Cell], limit_s: float) -> list[TaskPlan]:
    """The unfinished ``cells`` as array tasks of at most ``HEADROOM * limit_s`` estimated seconds each:
    first-fit decreasing, longest cell first, each into the first task it fits. A cell without an
    estimate, or too long to share, gets a task of its own. Each task runs its cells by dataset and
    method, so it loads a dataset once."""
    capacity = HEADROOM * limit_s
    todo = [cell for cell in cells if cell.state in ("failed", "to run")]
    timed = sorted((c for c in todo if c.seconds is not None), key=lambda c: -(c.seconds or 0.0))
    bins: list[list[Cell]] = []
    loads: list[float] = []
    for cell in timed:
        seconds = cell.seconds or 0.0
        fits = next((i for i, load in enumerate(loads) if load + seconds <= capacity), None)
        if fits is None:
            bins.append([cell])
            loads.append(seconds)
        else:
            bins[fits].append(cell)
            loads[fits] += seconds
    bins += [[cell] for cell in todo if cell.seconds is None]
    order = {id(cell): i for i, cell in enumerate(cells)}
    return [
        TaskPlan(sorted(group, key=lambda c: (c.spec.dataset, c.spec.method, order[id(c)]))) for group in bins
    ]


def too_long(tasks: Sequence[TaskPlan], limit_s: float) -> list[Cell]:
    """The cells estimated to take longer than the time limit on their own: each try of them times out."""
    return [cell for task in tasks for cell in task.cells if (cell.seconds or 0.0) > limit_s]


def array_table(tasks: Sequence[TaskPlan]) -> Table:
    """One row per task (the first ``SHOWN_TASKS``, then one row for the rest): its cells and their time."""
    count = f"{len(tasks)} task{'s' * (len(tasks) != 1)}"
    table = Table(title=f"Array plan ({count}, {sum(len(t.cells) for t in tasks)} cells)")
    for header in ("task", "cells", "methods", "datasets", "estimated time"):
        table.add_column(header)
    for index, task in enumerate(tasks[:SHOWN_TASKS]):
        methods = sorted({cell.spec.method for cell in task.cells})
        datasets = sorted({cell.spec.dataset for cell in task.cells})
        table.add_row(str(index), str(len(task.cells)), ", ".join(methods), ", ".join(datasets), _time(task))
    if rest := tasks[SHOWN_TASKS:]:
        table.add_row(f"{SHOWN_TASKS}-{len(tasks) - 1}", str(sum(len(t.cells) for t in rest)), "...", "...",
                      _time_sum(rest))
    return table


def array_summary(tasks: Sequence[TaskPlan], limit_s: float) -> list[str]:
    """Lines under the table: the longest task, the total, cells without an estimate, cells too long."""
    timed = [t.seconds for t in tasks if t.seconds is not None]
    lines = []
    if timed:
        lines.append(f"estimated: longest task {duration(max(timed))}, all tasks {duration(sum(timed))} "
                     f"of GPU time; each task's cells fill at most {HEADROOM:.0%} of its time limit")
    if untimed := sum(t.seconds is None for t in tasks):
        lines.append(f"{untimed} tasks hold one cell without an estimate each: measure the methods on this device "
                     "type with `bench perf` (then pass --perf FILE) and the cells will share tasks")
    for cell in too_long(tasks, limit_s):
        lines.append(f"[yellow]warning:[/] {cell.spec.method} {cell.spec.dataset} {cell.spec.run_id} is estimated "
                     f"at {duration(cell.seconds or 0.0)}, longer than the time limit {duration(limit_s)}: raise "
                     "--time-limit")
    return lines


def _time(task: TaskPlan) -> str:
    return "?" if task.seconds is None else duration(task.seconds)


def _time_sum(tasks: Sequence[TaskPlan]) -> str:
    times = [t.seconds for t in tasks]
    return "?" if any(t is None for t in times) else duration(sum(t for t in times if t is not None))
