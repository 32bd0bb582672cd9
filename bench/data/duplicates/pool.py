"""Several labelled sets of one dataset seen as one, so that duplicates are searched across all of them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.api.data import GalaxyData, ImageSource


class ConcatSource:
    """The images of several sources of one image shape, one after another."""

    def __init__(self, sources: Sequence[ImageSource]) -> None:
        self.sources = tuple(sources)
        self.offsets = np.cumsum([0, *(len(source) for source in self.sources)])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def read(self, indices: np.ndarray) -> np.ndarray:
        """uint8 images (n, H, W, 3) in the order of ``indices``."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        which = np.searchsorted(self.offsets, indices, side="right") - 1
        blocks = [source.read(indices[which == s] - self.offsets[s]) for s, source in enumerate(self.sources)]
        images = np.empty((len(indices), *blocks[0].shape[1:]), dtype=np.uint8)
        for s, block in enumerate(blocks):
            images[which == s] = block
        return images


def pooled(parts: Sequence[GalaxyData], name: str) -> GalaxyData:
    """``parts`` (sharing class names) as one set: image i of part k is image ``len(parts[0]) + ... + i``."""
    labels = np.concatenate([part.labels for part in parts])
    return GalaxyData(ConcatSource([part.source for part in parts]), labels, parts[0].class_names, name)
