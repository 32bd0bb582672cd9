"""GalaxyMNIST: 10,000 colour 64x64 galaxy images in 4 morphology classes (Walmsley et al.)."""

from __future__ import annotations

from pathlib import Path

from bench.api.data import DataOptions, DatasetInfo, DatasetSplits, GalaxyData, SplitSizes
from bench.data.hdf5 import data_location, find_file, open_labelled_h5, ungzipped
from bench.data.splits import split_official_test

NAME = "galaxy_mnist"
TITLE = "GalaxyMNIST"
TRAIN_FILE = "train_dataset.hdf5"
TEST_FILE = "test_dataset.hdf5"
IMAGE_KEY = "images"
LABEL_KEY = "labels"
FETCH_HINT = f"bench data fetch {NAME}"
VAL_FRACTION = 0.1  # of the official train file
TRAIN_IMAGES, TEST_IMAGES = 8_000, 2_000  # in the official files

CLASS_NAMES = ("smooth_round", "smooth_cigar", "edge_on_disk", "unbarred_spiral")


def _read(folder: Path, file_name: str) -> tuple[GalaxyData, Path]:
    found = find_file(folder, (f"{file_name}.gz", file_name), TITLE, FETCH_HINT)
    path = ungzipped(found, FETCH_HINT)
    source, labels = open_labelled_h5(path, IMAGE_KEY, LABEL_KEY, len(CLASS_NAMES), TITLE, FETCH_HINT)
    return GalaxyData(source, labels, CLASS_NAMES, NAME), path


def load(options: DataOptions) -> DatasetSplits:
    """GalaxyMNIST: the official test file is the test split, less the images that duplicate a train-file
    image; val is a stratified 10 % of the train file.

    ``options.path`` (or the data folder) holds ``train_dataset.hdf5`` and ``test_dataset.hdf5``,
    each possibly gzipped as downloaded; a path to either file means its folder.
    """
    location = data_location(options, TITLE, FETCH_HINT)
    folder = location.parent if location.is_file() else location
    official_train, train_path = _read(folder, TRAIN_FILE)
    test, test_path = _read(folder, TEST_FILE)
    return split_official_test(official_train, test, VAL_FRACTION, options.split_seed, files=(train_path, test_path))


DATASET = DatasetInfo(
    NAME, f"{TITLE}: {TRAIN_IMAGES + TEST_IMAGES:,} galaxies, 64 px, 4 classes", load, fetchable=True,
    sizes=lambda _: SplitSizes(
        TRAIN_IMAGES - round(TRAIN_IMAGES * VAL_FRACTION), round(TRAIN_IMAGES * VAL_FRACTION), TEST_IMAGES
    ),
    class_names=CLASS_NAMES,
)
