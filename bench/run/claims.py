"""Claims: which process is running a cell, so that processes sharing a results directory never run
one cell twice.

A claim is a small JSON file beside the cell's record (``<run_id>.claim``) holding the pid, host and
start time of the process running it, created atomically (``O_CREAT | O_EXCL``: of two processes
only one can create it). It is removed when the record is written or the run fails. A claim is stale,
and taken over, when its process is dead (known only on the same host) or it is older than
``STALE_AFTER_S``; a run killed on another host therefore blocks its cell for that long, unless its
claim file is deleted by hand.
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

STALE_AFTER_S = 48 * 3600.0  # longer than any one cell of the paper's grids takes
TAKEOVER_STALE_AFTER_S = 60.0  # a takeover lock is held for milliseconds: older ones were left by a crash


@dataclass(frozen=True)
class Holder:
    """The process a claim names."""

    pid: int
    host: str
    created: float  # seconds since the epoch

    @classmethod
    def this_process(cls) -> Holder:
        return cls(os.getpid(), socket.gethostname(), time.time())

    def is_stale(self, max_age_s: float) -> bool:
        """True when the holder is dead (same host) or the claim is older than ``max_age_s``."""
        if time.time() - self.created > max_age_s:
            return True
        return self.host == socket.gethostname() and not _alive(self.pid)

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.created, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"pid {self.pid} on {self.host} since {since}"


def claim_path(record: Path) -> Path:
    """Where the claim on the cell whose record is ``record`` lives."""
    return record.with_suffix(".claim")


def holder(record: Path) -> Holder | None:
    """Who holds the claim on ``record``'s cell (stale or not); None when nobody does."""
    path = claim_path(record)
    try:
        text = path.read_text()
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        fields = json.loads(text)
        return Holder(int(fields["pid"]), str(fields["host"]), float(fields["created"]))
    except (ValueError, TypeError, KeyError):  # being written this instant, or damaged: judge it by its age alone
        return Holder(-1, "unknown", modified)


def acquire(record: Path, max_age_s: float = STALE_AFTER_S) -> Holder | None:
    """Claim ``record``'s cell for this process. Returns None when this process now holds it, else the
    live holder that does. A stale claim is taken over."""
    path = claim_path(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        if _create(path, json.dumps(asdict(Holder.this_process()))):
            return None
        current = holder(record)
        if current is not None and not current.is_stale(max_age_s):
            return current
        _take_over(record, max_age_s)
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
    """Create ``path`` holding ``content``, only if it does not exist: True when this call made it."""
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w") as file:
        file.write(content)
    return True


def _take_over(record: Path, max_age_s: float) -> None:
    """Delete ``record``'s claim if it is still stale, under a lock so that of several processes judging
    the same stale claim, none deletes the fresh claim another has made meanwhile."""
    lock = claim_path(record).with_suffix(".takeover")
    if not _create(lock, str(os.getpid())):
        with contextlib.suppress(FileNotFoundError):
            if time.time() - lock.stat().st_mtime > TAKEOVER_STALE_AFTER_S:
                lock.unlink()
        time.sleep(0.05)
        return
    try:
        current = holder(record)
        if current is not None and current.is_stale(max_age_s):
            claim_path(record).unlink(missing_ok=True)
    finally:
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True
