"""Labelled galaxy images: a lazy image source plus labels and class names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np


class ImageSource(Protocol):
    """Anything that hands out uint8 images (n, H, W, 3) for an index array, without loading all."""

    def __len__(self) -> int: ...

    def read(self, indices: np.ndarray) -> np.ndarray: ...


class ArraySource:
    """Images already in memory as a uint8 (N, H, W, 3) array."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def read(self, indices: np.ndarray) -> np.ndarray:
        return self.images[indices]


class SubsetSource:
    """A view of another source through an index array."""

    def __init__(self, parent: ImageSource, indices: np.ndarray) -> None:
        self.parent = parent
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def read(self, indices: np.ndarray) -> np.ndarray:
        return self.parent.read(self.indices[indices])


@dataclass(frozen=True)
class GalaxyData:
    """A labelled set of galaxy images; ``labels[i]`` indexes ``class_names``.

    ``ids[i]`` is image i's number in its whole dataset (before any split: what a caption CSV's
    ``index`` column names); None at the root, where image i is number i. ``captions[i]``, when the
    set has captions, is image i's text (bench/data/captions/).
    """

    source: ImageSource
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str
    ids: np.ndarray | None = None
    captions: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_ids(self) -> np.ndarray:
        """Every image's number in its whole dataset."""
        return np.arange(len(self), dtype=np.int64) if self.ids is None else self.ids

    def read(self, indices: np.ndarray) -> np.ndarray:
        """uint8 images (n, H, W, 3) for ``indices`` into this set."""
        return self.source.read(np.asarray(indices, dtype=np.int64))

    def subset(self, indices: np.ndarray, name: str | None = None) -> GalaxyData:
        indices = np.asarray(indices, dtype=np.int64)
        captions = None if self.captions is None else tuple(self.captions[i] for i in indices.tolist())
        return GalaxyData(
            SubsetSource(self.source, indices), self.labels[indices], self.class_names, name or self.name,
            self.image_ids[indices], captions,
        )

    def with_captions(self, captions: tuple[str, ...]) -> GalaxyData:
        """The same images with ``captions[i]`` the text of image i."""
        if len(captions) != len(self):
            raise ValueError(f"{len(captions)} captions for {len(self)} images of {self.name}")
        return replace(self, captions=tuple(captions))

    def materialize(self) -> GalaxyData:
        """The same set with every image read into memory (for sets that fit)."""
        return replace(self, source=ArraySource(self.read(np.arange(len(self)))))


@dataclass(frozen=True)
class DatasetSplits:
    """A dataset's fixed train / val / test split.

    ``test_subsets`` names subsets of the test split (indices into ``test``) on which every run also
    reports its metrics, from the same model outputs: e.g. the official test images that duplicate no
    training image.
    """

    train: GalaxyData
    val: GalaxyData
    test: GalaxyData
    protocol: str  # how the split was made, shown in reports
    test_subsets: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.train.class_names


@dataclass(frozen=True)
class DataOptions:
    """Where a dataset's files are and how to split it.

    ``path`` is an explicit file or folder given by the user; otherwise loaders look in
    ``data_dir`` (the ``BENCH_DATA_DIR`` environment variable or ``--data-dir``).
    """

    data_dir: str | None = None
    path: str | None = None
    split_seed: int = 0
    demo_images_per_class: int | None = None  # synthetic sets (``demo:N``); None: the set's own default
    allow_outside_paths: bool = False  # a folder dataset's CSV may name images outside the CSV's folder


@dataclass(frozen=True)
class SplitSizes:
    """How many images each split holds."""

    train: int
    val: int
    test: int

    @classmethod
    def of(cls, total: int, val_fraction: float, test_fraction: float) -> SplitSizes:
        """Sizes of a ``total``-image set split by fractions (per-class rounding may move a few images)."""
        val, test = round(total * val_fraction), round(total * test_fraction)
        return cls(total - val - test, val, test)


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: its name, a one-line summary and how to load its splits.

    ``class_names`` are the dataset's classes when they are fixed, so that commands needing only them
    (``bench symbols``) run without the data. ``sizes``, when given, tells the split sizes without
    reading any file (time estimates of a dry run use it on machines that lack the data), before any
    duplicates are dropped; None when they are only known by loading. ``synthetic`` sets are rendered, not
    real galaxies: reports show them as stand-ins, and they take ``name:N`` (N images per class).
    ``versions`` are the same galaxies in other forms (e.g. at another resolution), each a dataset of its
    own name that the entry point of this one registers too.
    """

    name: str
    summary: str
    load: Callable[[DataOptions], DatasetSplits]
    fetchable: bool = False
    sizes: Callable[[DataOptions], SplitSizes] | None = None
    class_names: tuple[str, ...] | None = None  # when fixed; None when only the data tells (folder)
    synthetic: bool = False
    versions: tuple[DatasetInfo, ...] = ()
    # The files ``load`` would read, found without reading them (their fingerprints join each run's
    # identity, see bench/run/inputs.py); None where the dataset says none (folder: its --data-path counts).
    files: Callable[[DataOptions], list[Path]] | None = None
    # The shipped table of its classes as text (bench/data/captions/<text>.toml: descriptions and zero-shot
    # templates); None where it has none of its own (its classes are then looked up in every table).
    text: str | None = None
    # The name of its own per-image captions, which ``load`` attaches (the synthetic sets': "rendered", written
    # from what the renderer drew); None where it has none (runs then caption images by their class).
    captions: str | None = None
