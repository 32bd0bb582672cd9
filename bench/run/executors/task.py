"""The unit of work an executor runs: some cells of a grid, through the ordinary runner."""

from __future__ import annotations

import signal
from collections import Counter
from dataclasses import dataclass, replace

import submitit
import torch

from bench.api.spec import RunSpec
from bench.io.progress import console
from bench.run.interrupt import Stopped, stop_signals
from bench.run.provenance import resolve_device
from bench.run.runner import Runner, RunSettings

# SLURM sends SIGUSR2 before a time limit (submitit asks it to) and SIGTERM on preemption and scancel.
REQUEUE_SIGNALS = (signal.SIGTERM, signal.SIGUSR2)


@dataclass
class ArrayTask(submitit.helpers.Checkpointable):
    """Run ``specs`` into ``settings.results`` on ``device`` (resolved where the task runs: ``auto`` on a
    login node without a GPU is CUDA on the compute node), with ``threads`` torch CPU threads if given.

    Stopped by SIGTERM or SIGUSR2, it first drops its running cell cleanly (nothing of it kept, its claim
    released), then calls submitit's own SIGUSR2 handler, which checkpoints the task (itself: its progress
    is the records on disk) and requeues it, at most ``max_num_timeout`` times after time limits; requeued,
    it skips the cells done before. SIGINT stops it without a requeue. A cell that fails is recorded as
    failed and the task goes on: failures are never requeued.
    """

    specs: list[RunSpec]
    settings: RunSettings
    device: str
    threads: int | None = None

    def __call__(self) -> dict[str, int]:
        """The count of this call's cells by status (``ok``, ``failed``), and of those others held."""
        if self.threads:
            torch.set_num_threads(self.threads)
        runner = Runner(replace(self.settings, device=resolve_device(self.device)))
        requeue = signal.getsignal(signal.SIGUSR2)  # submitit's, inside a submitit job
        with stop_signals([signal.SIGINT, *REQUEUE_SIGNALS]):
            try:
                records = runner.run(self.specs)
            except Stopped as stop:
                if stop.signum in REQUEUE_SIGNALS and callable(requeue):
                    console.print(f"{stop.signum.name}: this task goes back to the queue through submitit, keeping "
                                  "the cells it finished", soft_wrap=True)
                    requeue(stop.signum, None)  # checkpoints, requeues and exits
                raise
        counts: dict[str, int] = dict(Counter(record.status for record in records))
        return {**counts, "held elsewhere": len(runner.held_elsewhere)}
