"""``--executor local``: one worker process per device (or group of devices) of this machine.

Every worker is a submitit local job running an ``ArrayTask`` over all of the grid's cells, worker i
starting i/N of the way along: it skips those another worker holds (bench.run.claims), so the workers
take the cells between them as each becomes free, every cell once. This process waits, showing how
many cells are recorded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import submitit
import torch

from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.io.progress import console, progress_bar
from bench.run.executors.submissions import Submission, record_paths, submitit_folder
from bench.run.executors.task import ArrayTask
from bench.run.runner import RunSettings
from bench.run.store import ResultStore

NO_TIME_LIMIT_MIN = 60 * 24 * 365  # submitit's local jobs have a time limit; a worker has none
POLL_S = 1.0


def worker_devices(
    device: torch.device, workers: int | None, devices: Sequence[str], per_cell: int = 1
) -> list[tuple[torch.device, ...]]:
    """The devices of each worker, ``per_cell`` of them (one per DDP rank of its cells): ``--devices`` in
    consecutive groups, or ``workers`` groups: of CPUs, or of the GPUs from ``device``'s on (``cuda:0`` for
    ``cuda``), checked against this machine's."""
    if devices:
        groups = len(devices) // per_cell
        if len(devices) % per_cell or (workers is not None and workers != groups):
            raise BenchError(f"{len(devices)} --devices do not make {workers or 'whole'} workers of --gpus-per-cell "
                             f"{per_cell} each", "list --gpus-per-cell devices per worker, or leave out --workers")
        listed = [torch.device(each) for each in devices]
        return [tuple(listed[i * per_cell:(i + 1) * per_cell]) for i in range(groups)]
    count = workers or 1
    if device.type != "cuda":
        return [(device,) * per_cell] * count
    first, needed = device.index or 0, count * per_cell
    if first + needed > torch.cuda.device_count():
        raise BenchError(f"{count} workers of {per_cell} GPU(s) from {device} need {first + needed} GPUs; this "
                         f"machine has {torch.cuda.device_count()}", "lower --workers, or list them with --devices")
    return [tuple(torch.device("cuda", first + w * per_cell + r) for r in range(per_cell)) for w in range(count)]


def cpu_threads(groups: Sequence[tuple[torch.device, ...]]) -> int | None:
    """CPU threads per worker: this machine's cores shared among the workers training on the CPU (None
    when none does: each GPU worker keeps torch's default). Set as ``OMP_NUM_THREADS`` before a worker
    starts: a pool torch has started with every core keeps spinning threads that ``set_num_threads``
    leaves busy (measured: two workers then train 5x slower per cell, not 2x)."""
    on_cpu = sum(group[0].type == "cpu" for group in groups)
    return max(1, (os.cpu_count() or 1) // on_cpu) if on_cpu else None


def run_workers(
    specs: list[RunSpec], settings: RunSettings, groups: Sequence[tuple[torch.device, ...]]
) -> list[Path]:
    """Run ``specs`` on one worker per group of devices and wait for them; returns the workers' failures
    as log files to read (a failed cell is not a failure of its worker: its record says why)."""
    results, store = settings.results, ResultStore(settings.results)
    executor = submitit.LocalExecutor(folder=submitit_folder(results))
    threads = cpu_threads(groups)
    executor.update_parameters(timeout_min=NO_TIME_LIMIT_MIN)
    starts = [i * len(specs) // len(groups) for i in range(len(groups))]
    # Through the environment the workers inherit, not submitit's ``setup`` lines: those start each
    # worker under a shell, which would swallow the SIGINT that ``job.cancel`` sends.
    with _environment({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)} if threads else {}):
        jobs = [executor.submit(ArrayTask(specs[start:] + specs[:start], settings, tuple(map(str, group))))
                for start, group in zip(starts, groups, strict=True)]
    Submission.now("local", [job.job_id for job in jobs], [record_paths(store, specs)] * len(jobs)).save(results)
    console.print(f"{len(jobs)} workers on {', '.join('+'.join(map(str, group)) for group in groups)}"
                  f"{f' ({threads} CPU threads each)' if threads else ''}; their logs: {results / 'submitit'}",
                  soft_wrap=True)
    try:
        _wait(jobs, specs, store)
    except KeyboardInterrupt:
        for job in jobs:
            job.cancel(check=False)
        _wait(jobs, specs, store)
        raise
    return [job.paths.stderr for job in jobs if job.exception() is not None]


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set, as it was before afterwards."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _wait(jobs: Sequence[submitit.Job[object]], specs: Sequence[RunSpec], store: ResultStore) -> None:
    """Until every job has ended, a bar of the cells recorded (done or failed) so far."""
    with progress_bar(transient=False) as bar:
        task = bar.add_task("cells recorded", total=len(specs), status="")
        while True:
            running = sum(not job.done() for job in jobs)
            recorded = sum(store.path_for(spec).exists() for spec in specs)
            bar.update(task, completed=recorded, status=f"{running} workers running")
            if not running:
                return
            time.sleep(POLL_S)
