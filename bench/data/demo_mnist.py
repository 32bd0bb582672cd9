"""A synthetic stand-in for GalaxyMNIST: its four classes drawn by the demo renderer (no download).

Each GalaxyMNIST class is rendered as the demo classes it covers; where it covers two, images
alternate between them. The set is 64 px and split 70/15/15 like the demo set.
"""

from __future__ import annotations

from bench.api.data import DataOptions, DatasetInfo, DatasetSplits
from bench.data import demo, galaxy_mnist
from bench.data.splits import split_dataset

NAME = "demo_mnist"
SEED = 1  # image i of this set is not drawn from the same random stream as image i of the demo set
IMAGES_PER_CLASS = 300  # 4 x 300: as many images as the demo set's 10 x 120

# GalaxyMNIST class -> the demo (Galaxy10) classes it is drawn from.
SOURCES: dict[str, tuple[str, ...]] = {
    "smooth_round": ("Round Smooth",),
    "smooth_cigar": ("Cigar Shaped Smooth",),
    "edge_on_disk": ("Edge-on without Bulge", "Edge-on with Bulge"),
    "unbarred_spiral": ("Unbarred Tight Spiral", "Unbarred Loose Spiral"),
}
CLASS_NAMES = galaxy_mnist.CLASS_NAMES


def load(options: DataOptions) -> DatasetSplits:
    """The GalaxyMNIST look-alike at 64 px, its captions written from what each image shows, split 70/15/15
    with the split seed."""
    sources = [[demo.CLASS_NAMES.index(source) for source in SOURCES[name]] for name in CLASS_NAMES]
    data = demo.captioned(sources, options.demo_images_per_class or IMAGES_PER_CLASS, SEED, NAME, CLASS_NAMES)
    return split_dataset(data, demo.VAL_FRACTION, demo.TEST_FRACTION, options.split_seed)


DATASET = DatasetInfo(
    NAME,
    "synthetic GalaxyMNIST-like galaxies (its 4 classes) rendered from a seed (no download)",
    load,
    sizes=lambda options: demo.split_sizes(len(CLASS_NAMES), options.demo_images_per_class or IMAGES_PER_CLASS),
    class_names=CLASS_NAMES,
    synthetic=True,
    text="galaxy_mnist",
    captions=demo.DATASET.captions,
)
