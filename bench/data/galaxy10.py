"""Galaxy10 DECaLS: 17,736 colour 256x256 galaxy images in 10 morphology classes (Leung & Bovy)."""

from __future__ import annotations

from pathlib import Path

from bench.api.data import DataOptions, DatasetInfo, DatasetSplits, GalaxyData, SplitSizes
from bench.data.hdf5 import data_location, find_file, open_labelled_h5
from bench.data.splits import split_dataset

NAME = "galaxy10_decals"
TITLE = "Galaxy10 DECaLS"
FILE_NAME = "Galaxy10_DECals.h5"
IMAGE_KEY = "images"
LABEL_KEY = "ans"
FETCH_HINT = f"bench data fetch {NAME}"
VAL_FRACTION = 0.1
TEST_FRACTION = 0.1
IMAGES = 17_736

CLASS_NAMES = (
    "Disturbed",
    "Merging",
    "Round Smooth",
    "In-between Round Smooth",
    "Cigar Shaped Smooth",
    "Barred Spiral",
    "Unbarred Tight Spiral",
    "Unbarred Loose Spiral",
    "Edge-on without Bulge",
    "Edge-on with Bulge",
)


def data_file(options: DataOptions) -> Path:
    """The Galaxy10 DECaLS file ``options`` name (or the one in their folder)."""
    return find_file(data_location(options, TITLE, FETCH_HINT), (FILE_NAME,), TITLE, FETCH_HINT)


def load(options: DataOptions) -> DatasetSplits:
    """Galaxy10 DECaLS with a fixed stratified 80/10/10 split drawn from ``options.split_seed``."""
    path = data_file(options)
    source, labels = open_labelled_h5(path, IMAGE_KEY, LABEL_KEY, len(CLASS_NAMES), TITLE, FETCH_HINT)
    data = GalaxyData(source, labels, CLASS_NAMES, NAME)
    return split_dataset(data, VAL_FRACTION, TEST_FRACTION, options.split_seed, files=(path,))


DATASET = DatasetInfo(
    NAME, f"{TITLE}: {IMAGES:,} galaxies, 256 px, 10 classes", load, fetchable=True,
    sizes=lambda _: SplitSizes.of(IMAGES, VAL_FRACTION, TEST_FRACTION),
    class_names=CLASS_NAMES, files=lambda options: [data_file(options)], text="galaxy10",
)
