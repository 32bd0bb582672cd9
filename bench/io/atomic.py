"""Files that are either absent, the old version, or complete: never half-written.

The temp file a write goes through is named after its writer, ``.<name>.<host>~<pid>.<random>.tmp``
beside the target (``temp_beside`` names one without the random part), so that one left by a killed
writer can be told from one being written now: ``remove_stale_temps`` deletes those whose writer is
dead (same host) or, from another host, that are older than a write can take.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from bench.io.processes import alive

TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<host>[^.~]*)~(?P<pid>\d+)(\.[^.]+)?\.tmp$")


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write`` on a temp file beside ``path``, fsync it, then rename it over ``path``; an OSError
    names ``path`` (see ``naming``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_writer()}.", suffix=".tmp")
    try:
        with naming(path), os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """An OSError inside that names no file (a full disk while writing) is raised again naming ``path``."""
    try:
        yield
    except OSError as error:
        if error.filename is None and error.errno is not None:
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise


def temp_beside(path: Path) -> Path:
    """A temp file of this process's for ``path``, named so that ``remove_stale_temps`` knows its writer."""
    return path.with_name(f".{path.name}.{_writer()}.tmp")


def remove_stale_temps(root: Path, max_age_s: float) -> list[Path]:
    """Delete the temp files under ``root`` whose writer is dead: on this host, when its pid no longer
    runs; from another host, when older than ``max_age_s``. Returns those deleted."""
    removed = []
    for temp in root.rglob(".*.tmp") if root.is_dir() else []:
        if (match := TEMP_NAME.match(temp.name)) is None:
            continue
        try:
            if match["host"] == _host():
                stale = not alive(int(match["pid"]))
            else:
                stale = time.time() - temp.stat().st_mtime > max_age_s
            if stale:
                temp.unlink()
                removed.append(temp)
        except FileNotFoundError:  # its writer finished, or another process removed it, meanwhile
            continue
    return removed


def _host() -> str:
    """This host's name as temp names hold it (no dots or tildes: they separate the name's parts)."""
    return re.sub(r"[.~]", "_", socket.gethostname())


def _writer() -> str:
    return f"{_host()}~{os.getpid()}"


def replace_folder(staging: Path, target: Path) -> Path:
    """Put the complete folder ``staging`` at ``target`` (a sibling of it), removing what was there: two
    renames, so ``target`` is the old folder or the new one, never a mix of both."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return target
