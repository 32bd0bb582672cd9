"""``--executor slurm``: a grid's pending cells as one SLURM job array, submitted through submitit.

Each array task is an ``ArrayTask`` over the cells packed into it by their estimated time
(bench.grid.array); it runs them through the ordinary runner into the shared results directory.
submitit writes the sbatch script (``--signal=USR2@90`` included: SLURM warns a task 90 s before its
time limit), keeps each task's pickle and logs under ``<results>/submitit/`` and requeues a stopped
task (see ArrayTask).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field

import submitit

from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.run.executors.submissions import Submission, record_paths, submitit_folder
from bench.run.executors.task import ArrayTask
from bench.run.runner import RunSettings
from bench.run.store import ResultStore

TIME = re.compile(r"^(?:(?P<days>\d+)-)?(?P<hours>\d+):(?P<minutes>\d\d)(?::(?P<seconds>\d\d))?$")


def minutes(text: str) -> int:
    """A SLURM time limit as minutes: ``240``, ``4:00``, ``04:00:00`` or ``1-00:00:00`` (days-hours)."""
    if text.strip().isdigit() and int(text) > 0:
        return int(text)
    match = TIME.match(text.strip())
    if not match:
        raise BenchError(f"--time-limit {text!r} is not a time", "write minutes or [DAYS-]HOURS:MINUTES[:SECONDS], "
                         "e.g. --time-limit 12:00:00")
    days, hours, mins, secs = (int(match[name] or 0) for name in ("days", "hours", "minutes", "seconds"))
    total = days * 1440 + hours * 60 + mins + (secs > 0)
    if total <= 0:
        raise BenchError(f"--time-limit {text!r} is zero", "give a positive time, e.g. --time-limit 4:00:00")
    return total


def clock(mins: int) -> str:
    """Minutes as SLURM writes a time limit (``1-04:00:00``)."""
    days, rest = divmod(mins, 1440)
    return f"{f'{days}-' if days else ''}{rest // 60:02d}:{rest % 60:02d}:00"


@dataclass(frozen=True)
class SlurmOptions:
    """What every cluster asks of a job: where it runs, whose it is, and what each task gets."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_limit_min: int = 240
    gpus_per_task: int = 1
    cpus_per_task: int = 8
    mem_gb: int | None = None
    array_parallelism: int = 256
    sbatch: dict[str, str] = field(default_factory=dict)  # extra ``#SBATCH --KEY=VALUE`` lines
    setup: list[str] = field(default_factory=list)  # shell lines run before each task (module load, ...)
    max_timeouts: int = 3  # requeues after a time limit, per task, before it is given up

    def parameters(self) -> dict[str, object]:
        """submitit's SlurmExecutor parameters for these options."""
        given = {
            "partition": self.partition, "account": self.account, "qos": self.qos,
            "mem": self.mem_gb and f"{self.mem_gb}GB", "additional_parameters": self.sbatch or None,
            # torch's CPU threads to the task's CPUs, not the node's (see bench/run/executors/local.py)
            "setup": [f"export OMP_NUM_THREADS={self.cpus_per_task}", *self.setup],
        }
        return {
            "job_name": "bench", "time": self.time_limit_min, "gpus_per_node": self.gpus_per_task or None,
            "cpus_per_task": self.cpus_per_task, "ntasks_per_node": 1, "array_parallelism": self.array_parallelism,
            **{key: value for key, value in given.items() if value},
        }

    def describe(self) -> str:
        """One line: the resources of every task."""
        where = ", ".join(f"{name} {value}" for name, value in
                          (("partition", self.partition), ("account", self.account), ("qos", self.qos)) if value)
        memory = f", {self.mem_gb} GB" if self.mem_gb else ""
        extra = "".join(f", --{key}={value}" for key, value in self.sbatch.items())
        return (f"each task: {self.gpus_per_task} GPU(s), {self.cpus_per_task} CPUs{memory}, time limit "
                f"{clock(self.time_limit_min)}{f', {where}' if where else ''}{extra}; at most "
                f"{self.array_parallelism} tasks at once")


def submit(tasks: Sequence[list[RunSpec]], settings: RunSettings, devices: tuple[str, ...],
           options: SlurmOptions) -> list[str]:
    """Submit ``tasks`` (each the cells of one array task, run on ``devices``: see ArrayTask) as one job
    array and record the submission; returns the array tasks' job ids."""
    if shutil.which("sbatch") is None or shutil.which("srun") is None:
        raise BenchError("SLURM's sbatch and srun are not on PATH here",
                         "run this on the cluster's login node, or use --executor local")
    executor = submitit.SlurmExecutor(folder=submitit_folder(settings.results), max_num_timeout=options.max_timeouts)
    executor.update_parameters(**options.parameters())
    work = [ArrayTask(specs, settings, devices) for specs in tasks]
    try:
        with executor.batch():
            jobs = [executor.submit(task) for task in work]
    except (submitit.core.utils.FailedJobError, OSError) as error:
        raise BenchError(f"sbatch refused the array: {str(error).strip().splitlines()[-1]}",
                         "check --partition, --account, --qos and the resources against `sinfo`") from error
    store = ResultStore(settings.results)
    records = [record_paths(store, specs) for specs in tasks]
    Submission.now("slurm", [job.job_id for job in jobs], records).save(settings.results)
    return [job.job_id for job in jobs]
