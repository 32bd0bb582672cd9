"""`bench run`'s scale-out options: ``--executor local`` (workers on this machine) and ``--executor slurm``
(a job array through submitit), and what each prints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from bench.api.errors import BenchError
from bench.cli.common import parse_pairs, split_list, stdout
from bench.io.progress import console

if TYPE_CHECKING:
    import torch

    from bench.grid.plan import Plan
    from bench.run.executors.slurm import SlurmOptions
    from bench.run.runner import RunSettings

PANEL = "Scale-out"
EXECUTORS = ("local", "slurm")
SLURM_FLAGS = ("partition", "account", "qos", "time_limit", "cpus_per_task", "mem_gb", "array_parallelism",
               "sbatch", "setup")
LOCAL_FLAGS = ("workers", "devices")

Executor = Annotated[Optional[str], typer.Option(rich_help_panel=PANEL, help=(
    "local: one worker process per device of this machine (--workers, --devices); slurm: submit the pending "
    "cells as one SLURM job array and return (see `bench status`). Default: run the cells in this process."))]
Workers = Annotated[Optional[int], typer.Option(min=1, rich_help_panel=PANEL, help=(
    "--executor local: this many workers (GPUs from --device's on, or CPU workers sharing the cores)."))]
Devices = Annotated[str, typer.Option(rich_help_panel=PANEL, help=(
    "--executor local: one worker per device listed, e.g. cuda:0,cuda:1,cuda:2,cuda:3."))]
Partition = Annotated[Optional[str], typer.Option(rich_help_panel=PANEL, help="SLURM partition.")]
Account = Annotated[Optional[str], typer.Option(rich_help_panel=PANEL, help="SLURM account to charge.")]
Qos = Annotated[Optional[str], typer.Option(rich_help_panel=PANEL, help="SLURM quality of service.")]
TimeLimit = Annotated[str, typer.Option(rich_help_panel=PANEL, help=(
    "SLURM time limit per array task: minutes or [DAYS-]HH:MM[:SS]; cells are packed into tasks to fit it."))]
CpusPerTask = Annotated[int, typer.Option(min=1, rich_help_panel=PANEL, help="SLURM CPUs per array task.")]
MemGb = Annotated[Optional[int], typer.Option(min=1, rich_help_panel=PANEL, help=(
    "SLURM memory per array task, GB (default: the partition's)."))]
ArrayParallelism = Annotated[int, typer.Option(min=1, rich_help_panel=PANEL, help=(
    "At most this many array tasks run at once."))]
Sbatch = Annotated[list[str], typer.Option(rich_help_panel=PANEL, help=(
    "KEY=VALUE: an extra `#SBATCH --KEY=VALUE` line (e.g. constraint=a100); repeatable."))]
Setup = Annotated[list[str], typer.Option(rich_help_panel=PANEL, help=(
    "A shell line each task runs first (e.g. 'module load cuda', 'source venv/bin/activate'); repeatable."))]


def chosen_executor(executor: str | None, given: list[str]) -> str | None:
    """The executor, checked against the scale-out flags given (``--workers`` alone means local)."""
    if executor is not None and executor not in EXECUTORS:
        raise BenchError(f"--executor {executor!r} is not local or slurm",
                         "pass --executor local or --executor slurm, or leave it out to run here")
    local = [f"--{name}" for name in LOCAL_FLAGS if name in given]
    slurm = [f"--{name.replace('_', '-')}" for name in SLURM_FLAGS if name in given]
    if executor is None and local:
        executor = "local"
    if slurm and executor != "slurm":
        raise BenchError(f"{', '.join(slurm)} only apply to --executor slurm", "add --executor slurm, or drop them")
    if local and executor != "local":
        raise BenchError(f"{', '.join(local)} only apply to --executor local",
                         "drop them: a SLURM array runs --array-parallelism tasks at once")
    return executor


def slurm_options(
    partition: str | None, account: str | None, qos: str | None, time_limit: str, gpus_per_task: int,
    cpus_per_task: int, mem_gb: int | None, array_parallelism: int, sbatch: list[str], setup: list[str],
) -> SlurmOptions:
    from bench.run.executors.slurm import SlurmOptions, minutes

    extra = parse_pairs(sbatch, "--sbatch", "constraint=a100")
    return SlurmOptions(partition=partition, account=account, qos=qos, time_limit_min=minutes(time_limit),
                        gpus_per_task=gpus_per_task, cpus_per_task=cpus_per_task, mem_gb=mem_gb,
                        array_parallelism=array_parallelism, sbatch=extra, setup=list(setup))


def slurm_array(
    plan: Plan, settings: RunSettings, device: str, gpus_per_cell: int, options: SlurmOptions, dry_run: bool
) -> None:
    """Print the array plan; unless ``dry_run``, submit it and say how to follow it."""
    from bench.grid.array import array_summary, array_table, pack, too_long
    from bench.run.executors.slurm import submit
    from bench.run.executors.task import cell_devices

    tasks = pack(plan.cells, options.time_limit_min * 60.0)
    if not tasks:
        console.print("nothing to submit: every cell is done or being run")
        return
    stdout.print(array_table(tasks))
    for line in [*array_summary(tasks, options.time_limit_min * 60.0), options.describe()]:
        stdout.print(line, soft_wrap=True)
    if dry_run:
        return
    if long := too_long(tasks, options.time_limit_min * 60.0):
        raise BenchError(f"{len(long)} cells are estimated to take longer than --time-limit: each try would time out",
                         "raise --time-limit (the warnings above name the cells)")
    cells = [[cell.spec for cell in task.cells] for task in tasks]
    job_ids = submit(cells, settings, cell_devices(device, gpus_per_cell), options)
    array = job_ids[0].split("_")[0]
    results = settings.results
    console.print(f"submitted job array {array}: {len(job_ids)} tasks, {sum(len(t.cells) for t in tasks)} cells, "
                  f"into {results}", soft_wrap=True)
    console.print(f"follow it: bench status --results {results} --watch   (or squeue -j {array}); "
                  f"logs: {Path(results) / 'submitit' / (array + '_*')}", soft_wrap=True)


def local_devices(device: str, workers: int | None, devices: str, per_cell: int) -> list[tuple[torch.device, ...]]:
    """The devices of each local worker (``per_cell`` of them), checked on this machine."""
    from bench.cli import checks
    from bench.run.executors.local import worker_devices

    listed = split_list(devices)
    for name in listed:
        checks.device(name, used=True)
    return worker_devices(checks.device(device, used=True), workers, listed, per_cell)
