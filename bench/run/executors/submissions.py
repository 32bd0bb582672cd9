"""What an executor submitted: one file per submission under ``<results>/submitit/``, beside submitit's
own logs and pickles, read by `bench status`."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.markup import escape

from bench.api.spec import RunSpec
from bench.io.atomic import write_atomically
from bench.io.progress import console
from bench.run.store import ResultStore

SUBMITIT_DIR = "submitit"  # under the results directory
PREFIX = "submission-"


def record_paths(store: ResultStore, specs: Iterable[RunSpec]) -> list[str]:
    """Where the records of ``specs`` go, relative to the results directory."""
    return [str(store.path_for(spec).relative_to(store.root)) for spec in specs]


def submitit_folder(results: Path) -> Path:
    """Where submitit keeps each job's pickles and logs (``%j``: the job id)."""
    return results / SUBMITIT_DIR / "%j"


@dataclass(frozen=True)
class Submission:
    """One submission: its executor, where from, and per task its job id and its cells' record paths
    (relative to the results directory)."""

    executor: str  # "local" or "slurm"
    host: str
    submitted_at: str  # ISO 8601, UTC
    job_ids: list[str]
    tasks: list[list[str]]

    @classmethod
    def now(cls, executor: str, job_ids: list[str], tasks: list[list[str]]) -> Submission:
        return cls(executor, socket.gethostname(), datetime.now(UTC).isoformat(), job_ids, tasks)

    def save(self, results: Path) -> Path:
        name = f"{PREFIX}{self.executor}-{self.job_ids[0].split('_')[0]}.json"
        text = json.dumps(asdict(self), indent=2)
        return write_atomically(results / SUBMITIT_DIR / name, lambda file: file.write(text.encode()))


def submissions(results: Path) -> list[Submission]:
    """Every submission recorded under ``results``, oldest first; an unreadable file is skipped in one line."""
    found = []
    for path in sorted((results / SUBMITIT_DIR).glob(f"{PREFIX}*.json")):
        try:
            found.append(Submission(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError) as error:
            console.print(f"[yellow]warning:[/] skipped {escape(str(path))}: not a submission file ({error})",
                          soft_wrap=True)
    return sorted(found, key=lambda each: each.submitted_at)
