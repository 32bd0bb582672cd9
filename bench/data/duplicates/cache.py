"""The duplicate groups a dataset loader keeps within one split part, cached beside the data.

A dataset read from files caches its groups in ``$BENCH_CACHE_DIR/duplicates`` (or
``~/.cache/galaxy-bench/duplicates``), keyed by each file's path, size and modification time and by the
duplicate criterion, so only the first load hashes the images. Inside :func:`ignoring_duplicates` loaders
get no groups and split as if there were no duplicates (the audit compares that split with theirs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np

from bench.api.data import GalaxyData
from bench.data.duplicates.find import Duplicates, DuplicateSettings, PixelEmbedding, find_duplicates
from bench.data.duplicates.fingerprint import HASH_BITS
from bench.data.hdf5 import cache_dir
from bench.io.atomic import write_atomically

CACHE_VERSION = 1  # bump when the fingerprint or the criterion changes meaning
_IGNORING = ContextVar("ignoring_duplicates", default=False)


@contextmanager
def ignoring_duplicates() -> Iterator[None]:
    """Within this block, :func:`split_duplicates` returns None: loaders split without duplicate groups."""
    token = _IGNORING.set(True)
    try:
        yield
    finally:
        _IGNORING.reset(token)


def _cache_path(data: GalaxyData, files: Sequence[Path], settings: DuplicateSettings) -> Path:
    stats = [(str(Path(f).resolve()), Path(f).stat().st_size, Path(f).stat().st_mtime_ns) for f in files]
    key = json.dumps(
        [CACHE_VERSION, HASH_BITS, settings.threshold, settings.similarity, PixelEmbedding.name, len(data), stats]
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return cache_dir() / "duplicates" / f"{data.name.replace('/', '_')}-{digest}.npz"


def _save(path: Path, found: Duplicates) -> None:
    """Write ``found`` to ``path`` atomically; when the cache folder is not writable, nothing is cached."""
    arrays: dict[str, Any] = {
        name: np.asarray(getattr(found, name))
        for name in ("groups", "exact_pairs", "near_pairs", "similarity", "candidates")
    }
    try:
        write_atomically(path, lambda out: np.savez(out, **arrays))
    except OSError:
        return


def _load(path: Path, settings: DuplicateSettings) -> Duplicates | None:
    try:
        with np.load(path) as saved:
            return Duplicates(
                groups=saved["groups"],
                exact_pairs=int(saved["exact_pairs"]),
                near_pairs=saved["near_pairs"],
                similarity=saved["similarity"],
                candidates=int(saved["candidates"]),
                settings=settings,
                embedding=PixelEmbedding.name,
            )
    except (OSError, ValueError, KeyError):
        return None


def split_duplicates(data: GalaxyData, files: Sequence[Path] = ()) -> Duplicates | None:
    """The duplicates among ``data``'s images under the default criterion, for its split.

    ``files`` are the files the images come from: the result is cached under their path, size and
    modification time. Without files (data generated in memory) it is computed every time.
    None inside :func:`ignoring_duplicates`.
    """
    if _IGNORING.get():
        return None
    settings = DuplicateSettings()
    if not files:
        return find_duplicates(data, settings)
    path = _cache_path(data, files, settings)
    if (cached := _load(path, settings)) is not None and len(cached.groups) == len(data):
        return cached
    found = find_duplicates(data, settings)
    _save(path, found)
    return found
