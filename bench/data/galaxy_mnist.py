"""GalaxyMNIST: 10,000 colour 64x64 galaxy images in 4 morphology classes (Walmsley et al.)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.base import DataOptions, DatasetInfo, DatasetSplits, GalaxyData
from bench.data.hdf5 import data_location, find_file, open_labelled_h5, ungzipped
from bench.data.splits import nested_fraction

NAME = "galaxy_mnist"
TITLE = "GalaxyMNIST"
TRAIN_FILE = "train_dataset.hdf5"
TEST_FILE = "test_dataset.hdf5"
IMAGE_KEY = "images"
LABEL_KEY = "labels"
FETCH_HINT = f"bench data fetch {NAME}"
VAL_FRACTION = 0.1  # of the official train file

CLASS_NAMES = ("smooth_round", "smooth_cigar", "edge_on_disk", "unbarred_spiral")


def _read(folder: Path, file_name: str, name: str) -> GalaxyData:
    found = find_file(folder, (f"{file_name}.gz", file_name), TITLE, FETCH_HINT)
    path = ungzipped(found, FETCH_HINT)
    source, labels = open_labelled_h5(path, IMAGE_KEY, LABEL_KEY, len(CLASS_NAMES), TITLE, FETCH_HINT)
    return GalaxyData(source, labels, CLASS_NAMES, name)


def load(options: DataOptions) -> DatasetSplits:
    """GalaxyMNIST: the official test file is the test split; val is a stratified 10 % of the train file.

    ``options.path`` (or the data folder) holds ``train_dataset.hdf5`` and ``test_dataset.hdf5``,
    each possibly gzipped as downloaded; a path to either file means its folder.
    """
    location = data_location(options, TITLE, FETCH_HINT)
    folder = location.parent if location.is_file() else location
    official_train = _read(folder, TRAIN_FILE, NAME)
    test = _read(folder, TEST_FILE, f"{NAME}/test")
    val = nested_fraction(official_train.labels, VAL_FRACTION, options.split_seed)
    train = np.setdiff1d(np.arange(len(official_train)), val)
    protocol = (
        f"official train/test files ({len(official_train)}/{len(test)}); val: stratified "
        f"{VAL_FRACTION:.0%} of the train file, split seed {options.split_seed}"
    )
    return DatasetSplits(
        official_train.subset(train, f"{NAME}/train"),
        official_train.subset(val, f"{NAME}/val"),
        test,
        protocol,
    )


DATASET = DatasetInfo(NAME, f"{TITLE}: 10,000 galaxies, 64 px, 4 classes", load, fetchable=True)
