"""GalaxyMNIST: 10,000 colour galaxy images in 4 morphology classes (Walmsley et al.), at two resolutions.

Upstream publishes the same galaxies at 64 px (``galaxy_mnist``) and at 224 px (``galaxy_mnist_224``,
its GalaxyMNISTHighrez) in files of the same names, so the 224 px files go in a folder of their own
under the data folder. One loader serves both; each checks that its files hold images of its size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.api.data import DataOptions, DatasetInfo, DatasetSplits, GalaxyData, SplitSizes
from bench.api.errors import BenchError
from bench.data.hdf5 import H5ImageSource, data_location, find_file, open_labelled_h5, ungzipped
from bench.data.splits import split_official_test

NAME = "galaxy_mnist"
TITLE = "GalaxyMNIST"
TRAIN_FILE = "train_dataset.hdf5"
TEST_FILE = "test_dataset.hdf5"
IMAGE_KEY = "images"
LABEL_KEY = "labels"
VAL_FRACTION = 0.1  # of the official train file
TRAIN_IMAGES, TEST_IMAGES = 8_000, 2_000  # in the official files

CLASS_NAMES = ("smooth_round", "smooth_cigar", "edge_on_disk", "unbarred_spiral")


@dataclass(frozen=True)
class Resolution:
    """GalaxyMNIST at one image size: its dataset name, and the folder under the data folder of its files."""

    name: str
    image_size: int  # side in pixels
    subfolder: str  # '': the data folder itself

    @property
    def title(self) -> str:
        return f"{TITLE} {self.image_size} px"

    @property
    def fetch_hint(self) -> str:
        return f"bench data fetch {self.name}"

    @property
    def place(self) -> str:
        """Where its files go, in words."""
        return f"<data folder>/{self.subfolder}/" if self.subfolder else "the data folder itself"


LOW_RES = Resolution(NAME, 64, "")
HIGH_RES = Resolution(f"{NAME}_224", 224, f"{NAME}_224")
RESOLUTIONS = (LOW_RES, HIGH_RES)


def folder(resolution: Resolution, options: DataOptions) -> Path:
    """The folder of ``resolution``'s files: ``options.path`` (a path to a file means its folder), else its
    subfolder of the data folder."""
    location = data_location(options, resolution.title, resolution.fetch_hint)
    if location.is_file():
        return location.parent
    return location if options.path else location / resolution.subfolder


def _check_size(source: H5ImageSource, path: Path, resolution: Resolution) -> None:
    height, width = source.shape[1:3]
    side = resolution.image_size
    if (height, width) == (side, side):
        return
    problem = f"{path} holds {height} x {width} images, but {resolution.name} is {TITLE} at {side} x {side}"
    other = next((r for r in RESOLUTIONS if r.image_size == height == width), None)
    if other is None:
        fix = f"use the published {resolution.title} files: `{resolution.fetch_hint}`"
    else:
        fix = (f"these are {other.name}'s files (they go in {other.place}): run dataset {other.name} on them, or "
               f"put {resolution.name}'s in {resolution.place} with `{resolution.fetch_hint}`")
    raise BenchError(problem, fix)


def _find(where: Path, file_name: str, resolution: Resolution) -> Path:
    return find_file(where, (f"{file_name}.gz", file_name), resolution.title, resolution.fetch_hint)


def data_files(resolution: Resolution, options: DataOptions) -> list[Path]:
    """The train and test files (as found: gzipped or not) of ``resolution`` that ``options`` name."""
    where = folder(resolution, options)
    return [_find(where, name, resolution) for name in (TRAIN_FILE, TEST_FILE)]


def _read(where: Path, file_name: str, resolution: Resolution) -> tuple[GalaxyData, Path]:
    path = ungzipped(_find(where, file_name, resolution), resolution.fetch_hint)
    source, labels = open_labelled_h5(
        path, IMAGE_KEY, LABEL_KEY, len(CLASS_NAMES), resolution.title, resolution.fetch_hint
    )
    _check_size(source, path, resolution)
    return GalaxyData(source, labels, CLASS_NAMES, resolution.name), path


def load_resolution(resolution: Resolution, options: DataOptions) -> DatasetSplits:
    """GalaxyMNIST at ``resolution``: the official test file, whole, is the test split (its images that
    duplicate no train-file image are also a named subset, see :func:`split_official_test`); val is a
    stratified 10 % of the train file.

    ``options.path`` (or the resolution's folder of the data folder) holds ``train_dataset.hdf5`` and
    ``test_dataset.hdf5``, each possibly gzipped as downloaded; a path to either file means its folder.
    """
    where = folder(resolution, options)
    official_train, train_path = _read(where, TRAIN_FILE, resolution)
    test, test_path = _read(where, TEST_FILE, resolution)
    return split_official_test(official_train, test, VAL_FRACTION, options.split_seed, files=(train_path, test_path))


def load(options: DataOptions) -> DatasetSplits:
    """GalaxyMNIST at 64 px (see :func:`load_resolution`)."""
    return load_resolution(LOW_RES, options)


def load_224(options: DataOptions) -> DatasetSplits:
    """GalaxyMNIST at 224 px (see :func:`load_resolution`)."""
    return load_resolution(HIGH_RES, options)


def _sizes(_: DataOptions) -> SplitSizes:
    val = round(TRAIN_IMAGES * VAL_FRACTION)
    return SplitSizes(TRAIN_IMAGES - val, val, TEST_IMAGES)


def _info(
    resolution: Resolution, loader: Callable[[DataOptions], DatasetSplits], versions: tuple[DatasetInfo, ...] = ()
) -> DatasetInfo:
    where = f" (files in {resolution.place})" if resolution.subfolder else ""
    summary = f"{TITLE}: {TRAIN_IMAGES + TEST_IMAGES:,} galaxies, {resolution.image_size} px, 4 classes{where}"
    return DatasetInfo(resolution.name, summary, loader, fetchable=True, sizes=_sizes, class_names=CLASS_NAMES,
                       versions=versions, files=lambda options: data_files(resolution, options), text="galaxy_mnist")


DATASET_224 = _info(HIGH_RES, load_224)
DATASET = _info(LOW_RES, load, versions=(DATASET_224,))  # its entry point registers both
