"""Datasets held on the training device as uint8, so that batches are gathered there, not copied.

A GalaxyData is a chain of index views (``SubsetSource``) over one root image source. On CUDA the
root's images are uploaded once per process when they fit in free memory with a margin, and every
view of that root (any training fraction, val, test: every cell of a grid) gathers its batches on
the GPU. On the CPU an in-memory array is already where it needs to be and is indexed directly; a
lazily read file stays lazy there. Anything else falls back to reading batches from the source.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Protocol

import numpy as np
import torch

from bench.api.data import ArraySource, GalaxyData, ImageSource, SubsetSource
from bench.train.preprocess import to_device

RESERVE_FRACTION = 0.5  # of the GPU's memory left free for training when a dataset is uploaded
UPLOAD_CHUNK = 1024  # images read from the source and copied per step of an upload

_kept: dict[tuple[int, str], tuple[weakref.ref[ImageSource], torch.Tensor]] = {}


class BatchReader(Protocol):
    """What the training and evaluation loops read uint8 image batches from."""

    def read(self, indices: np.ndarray) -> np.ndarray | torch.Tensor: ...


class Gather:
    """Batches of a view, gathered from the root's images by position (on their device)."""

    def __init__(self, images: torch.Tensor | np.ndarray, positions: np.ndarray) -> None:
        self.images = images
        self.positions = positions

    def read(self, indices: np.ndarray) -> np.ndarray | torch.Tensor:
        rows = self.positions[np.asarray(indices, dtype=np.int64)]
        if isinstance(self.images, np.ndarray):
            return self.images[rows]
        return self.images.index_select(0, to_device(torch.from_numpy(rows), self.images.device))


def root_of(data: GalaxyData) -> tuple[ImageSource, np.ndarray]:
    """The source at the bottom of ``data``'s chain of views, and each image's position in it."""
    source: ImageSource = data.source
    positions = np.arange(len(data))
    while isinstance(source, SubsetSource):
        positions = np.asarray(source.indices, dtype=np.int64)[positions]
        source = source.parent
    return source, positions


def keeps_resident(nbytes: int, device: torch.device) -> bool:
    """Whether a dataset of ``nbytes`` is held on ``device``: on CUDA when it fits in free memory
    (counting what torch holds unused) while ``RESERVE_FRACTION`` of the whole memory stays free for
    training; never on the CPU, where in-memory arrays already are and files stay lazy."""
    if device.type != "cuda":
        return False
    free, total = torch.cuda.mem_get_info(device)
    unused = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return nbytes <= free + unused - RESERVE_FRACTION * total


def _upload(source: ImageSource, device: torch.device) -> torch.Tensor | None:
    """All of ``source``'s uint8 images as one tensor on ``device``, or None when it is not kept there."""
    first = source.read(np.arange(min(1, len(source))))
    if first.dtype != np.uint8 or len(first) == 0 or not keeps_resident(len(source) * first[0].nbytes, device):
        return None
    images = torch.empty((len(source), *first.shape[1:]), dtype=torch.uint8, device=device)
    for start in range(0, len(source), UPLOAD_CHUNK):
        chunk = source.read(np.arange(start, min(start + UPLOAD_CHUNK, len(source))))
        images[start : start + len(chunk)].copy_(torch.from_numpy(np.ascontiguousarray(chunk)))
    return images


def _resident(source: ImageSource, device: torch.device) -> torch.Tensor | None:
    """``source``'s images on ``device``: uploaded once, kept while ``source`` lives."""
    key = (id(source), str(device))
    if key in _kept:
        owner, kept = _kept[key]
        if owner() is source:
            return kept
    images = _upload(source, device)
    if images is not None:
        with contextlib.suppress(TypeError):  # a source that cannot be weakly referenced is uploaded per use
            _kept[key] = (weakref.ref(source, lambda _: _kept.pop(key, None)), images)
    return images


def device_reader(data: GalaxyData, device: torch.device) -> BatchReader:
    """Where the loops read ``data``'s batches from: its root's images on ``device`` when they are
    kept there, an in-memory array directly on the CPU, else ``data`` itself."""
    root, positions = root_of(data)
    if device.type == "cpu" and isinstance(root, ArraySource):
        return Gather(root.images, positions)
    images = _resident(root, device)
    return data if images is None else Gather(images, positions)
