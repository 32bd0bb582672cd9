"""Claims: which process is running a cell, so that processes sharing a results directory never run
one cell twice.

A claim is a small JSON file beside the cell's record (``<run_id>.claim``) holding the pid, host and
start time of the process running it. It is written whole to a temp file first, then hard-linked into
place (of two processes only one can create the link), so a claim is never seen half-written. It is
removed when the record is written or the run fails. A claim is stale, and taken over with one line
saying why, when its file cannot be read as a claim (empty or damaged, e.g. by a full disk), its
process is dead (known only on the same host), it was made by an earlier run of this process's own
SLURM job (the job was requeued: its ``SLURM_RESTART_COUNT`` is higher now), or it is older than
``STALE_AFTER_S``; a run killed on another host outside that case therefore blocks its cell for that
long, unless its claim file is deleted by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.markup import escape

from bench.io.atomic import naming, temp_beside
from bench.io.processes import alive
from bench.io.progress import console

STALE_AFTER_S = 48 * 3600.0  # longer than any one cell of the paper's grids takes
TAKEOVER_STALE_AFTER_S = 60.0  # a takeover lock is held for milliseconds: older ones were left by a crash


@dataclass(frozen=True)
class Holder:
    """The process a claim names."""

    pid: int
    host: str
    created: float  # seconds since the epoch
    damaged: bool = False  # the claim file could not be read as a claim: it names no process
    slurm_job: str | None = None  # the SLURM job the process ran in, and which run of it (0 until requeued)
    slurm_restart: int = 0

    @classmethod
    def this_process(cls) -> Holder:
        job, restart = slurm_run()
        return cls(os.getpid(), socket.gethostname(), time.time(), slurm_job=job, slurm_restart=restart)

    def stale_reason(self, max_age_s: float) -> str | None:
        """Why the claim is stale (its file damaged, its holder dead on this host, or the claim older
        than ``max_age_s``); None while its holder may still be running."""
        if self.damaged:
            return "its file is empty or damaged"
        job, restart = slurm_run()
        if self.slurm_job is not None and self.slurm_job == job and self.slurm_restart < restart:
            return f"it was made by run {self.slurm_restart} of SLURM job {job}, which has been requeued since"
        if time.time() - self.created > max_age_s:
            return f"it is older than {max_age_s / 3600:g} h"
        if self.host == socket.gethostname() and not alive(self.pid):
            return f"its process (pid {self.pid} on {self.host}) is dead"
        return None

    def is_stale(self, max_age_s: float) -> bool:
        return self.stale_reason(max_age_s) is not None

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.created, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        job = f" (SLURM job {self.slurm_job})" if self.slurm_job else ""
        return f"pid {self.pid} on {self.host}{job} since {since}"


def slurm_run() -> tuple[str | None, int]:
    """The SLURM job this process runs in (None outside SLURM) and how often it has been requeued."""
    return os.environ.get("SLURM_JOB_ID"), int(os.environ.get("SLURM_RESTART_COUNT", "0"))


def claim_path(record: Path) -> Path:
    """Where the claim on the cell whose record is ``record`` lives."""
    return record.with_suffix(".claim")


def holder(record: Path) -> Holder | None:
    """Who holds the claim on ``record``'s cell (stale or not); None when nobody does."""
    path = claim_path(record)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return Holder(-1, "unknown", 0.0, damaged=True)
    try:
        fields = json.loads(text)
        job = fields.get("slurm_job")
        return Holder(int(fields["pid"]), str(fields["host"]), float(fields["created"]),
                      slurm_job=None if job is None else str(job), slurm_restart=int(fields.get("slurm_restart", 0)))
    except (ValueError, TypeError, KeyError):  # claims are linked into place whole: this one is damaged
        return Holder(-1, "unknown", 0.0, damaged=True)


def acquire(record: Path, max_age_s: float = STALE_AFTER_S) -> Holder | None:
    """Claim ``record``'s cell for this process. Returns None when this process now holds it, else the
    live holder that does. A stale claim is taken over, in one line saying why."""
    path = claim_path(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        if _create(path, json.dumps(asdict(Holder.this_process()))):
            return None
        current = holder(record)
        if current is not None and not current.is_stale(max_age_s):
            return current
        if (reason := _take_over(record, max_age_s)) is not None:
            console.print(f"taking over the claim {escape(str(path))}: {reason}", soft_wrap=True)
    return holder(record) or Holder(-1, "unknown", time.time())


def release(record: Path) -> None:
    """Remove this process's claim on ``record``'s cell (never another process's)."""
    current = holder(record)
    if current is not None and (current.pid, current.host) == (os.getpid(), socket.gethostname()):
        claim_path(record).unlink(missing_ok=True)


def live_holder(record: Path, max_age_s: float = STALE_AFTER_S) -> Holder | None:
    """The live process running ``record``'s cell, if any."""
    current = holder(record)
    return current if current is not None and not current.is_stale(max_age_s) else None


def _create(path: Path, content: str) -> bool:
    """Create ``path`` holding ``content`` whole, only if it does not exist: True when this call made it."""
    temp = temp_beside(path)
    try:
        with naming(path):
            temp.write_text(content)
            os.link(temp, path)
    except FileExistsError:
        return False
    finally:
        temp.unlink(missing_ok=True)
    return True


def _take_over(record: Path, max_age_s: float) -> str | None:
    """Delete ``record``'s claim if it is still stale, under a lock so that of several processes judging
    the same stale claim, none deletes the fresh claim another has made meanwhile. Returns why it was
    stale when this call deleted it."""
    lock = claim_path(record).with_suffix(".takeover")
    if not _create(lock, str(os.getpid())):
        with contextlib.suppress(FileNotFoundError):
            if time.time() - lock.stat().st_mtime > TAKEOVER_STALE_AFTER_S:
                lock.unlink()
        time.sleep(0.05)
        return None
    try:
        current = holder(record)
        reason = None if current is None else current.stale_reason(max_age_s)
        if reason is not None:
            claim_path(record).unlink(missing_ok=True)
        return reason
    finally:
        lock.unlink(missing_ok=True)
