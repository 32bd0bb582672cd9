"""The unit of work an executor runs: some cells of a grid, through the ordinary runner."""

from __future__ import annotations

import os
import signal
import socket
from collections import Counter
from dataclasses import dataclass, replace

import submitit
import torch

from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.io.progress import console
from bench.run.interrupt import Stopped, stop_signals
from bench.run.provenance import resolve_device
from bench.run.runner import Runner, RunSettings

# SLURM sends SIGUSR2 before a time limit (submitit asks it to) and SIGTERM on preemption and scancel.
REQUEUE_SIGNALS = (signal.SIGTERM, signal.SIGUSR2)


def present(device: torch.device) -> torch.device:
    """``device``, checked to be on this machine (a node given fewer GPUs than asked for fails at once)."""
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise BenchError(f"{device} is not on {socket.gethostname()}: it has {torch.cuda.device_count()} GPU(s)",
                         "ask for as many GPUs per task as --gpus-per-cell (SLURM), or list this machine's --devices")
    return device


def cell_devices(device: str, gpus_per_cell: int) -> tuple[str, ...]:
    """The devices of one cell in a SLURM task given ``gpus_per_cell`` GPUs: ``device`` for one; for more,
    the GPUs SLURM makes visible to the task (``cuda:0`` on), or CPU ranks under ``--device cpu``."""
    if gpus_per_cell == 1:
        return (device,)
    return ("cpu",) * gpus_per_cell if device == "cpu" else tuple(f"cuda:{r}" for r in range(gpus_per_cell))


@dataclass
class ArrayTask(submitit.helpers.Checkpointable):
    """Run ``specs`` into ``settings.results`` on ``devices``, resolved where the task runs (``auto`` on a
    login node without a GPU is CUDA on the compute node): one, or one per DDP rank of each cell
    (``--gpus-per-cell``).

    Stopped by SIGTERM or SIGUSR2, it first drops its running cell cleanly (nothing of it kept, its claim
    released), then, in a SLURM job, calls submitit's own SIGUSR2 handler, which checkpoints the task
    (itself: its progress is the records on disk) and requeues it, at most ``max_num_timeout`` times
    after time limits; requeued, it skips the cells done before. SIGINT stops it without a requeue, as
    any signal stops a local worker. A cell that fails is recorded as failed and the task goes on:
    failures are never requeued.
    """

    specs: list[RunSpec]
    settings: RunSettings
    devices: tuple[str, ...]

    def __call__(self) -> dict[str, int]:
        """The count of this call's cells by status (``ok``, ``failed``), and of those others held."""
        devices = [present(resolve_device(name)) for name in self.devices]
        ranks = tuple(devices) if len(devices) > 1 else ()
        runner = Runner(replace(self.settings, device=devices[0], rank_devices=ranks))
        requeue = signal.getsignal(signal.SIGUSR2)  # submitit's, inside a submitit job
        under_slurm = os.environ.get("SUBMITIT_EXECUTOR") == "slurm"  # a local worker stopped stays stopped
        with stop_signals([signal.SIGINT, *REQUEUE_SIGNALS]):
            try:
                records = runner.run(self.specs)
            except Stopped as stop:
                if under_slurm and stop.signum in REQUEUE_SIGNALS and callable(requeue):
                    console.print(f"{stop.signum.name}: this task goes back to the queue through submitit, keeping "
                                  "the cells it finished", soft_wrap=True)
                    requeue(stop.signum, None)  # checkpoints, requeues and exits
                raise
        counts: dict[str, int] = dict(Counter(record.status for record in records))
        return {**counts, "held elsewhere": len(runner.held_elsewhere)}
