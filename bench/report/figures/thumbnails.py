"""Test images for the thumbnail figures, loaded from the dataset the runs used."""

from __future__ import annotations

import numpy as np
from PIL import Image
from rich.markup import escape

from bench.api import registry
from bench.api.data import DataOptions, GalaxyData
from bench.api.errors import BenchError
from bench.io.progress import console


def load_test_split(dataset: str, options: DataOptions, labels: np.ndarray) -> GalaxyData | None:
    """The test split of ``dataset``, or None (with one warning line) when it cannot be loaded here or
    is not the split the runs saw (its labels differ from the saved ``labels``)."""
    try:
        test = registry.load_dataset(dataset, options).test
    except (BenchError, OSError) as error:
        _warn_skipped(dataset, f"its data cannot be loaded ({error})")
        return None
    if not np.array_equal(test.labels, labels):
        _warn_skipped(
            dataset,
            "the test split loaded here is not the one the runs used "
            "(pass the same data files and split seed as `bench run`)",
        )
        return None
    return test


def _warn_skipped(dataset: str, reason: str) -> None:
    console.print(f"[yellow]skipping the thumbnail figures of {dataset}: {escape(reason)}[/]", soft_wrap=True)


def thumbnails(test: GalaxyData, indices: np.ndarray, size: int) -> np.ndarray:
    """uint8 (n, size, size, 3) images ``indices`` of ``test``, resized."""
    images = test.read(indices)
    return np.stack(
        [np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR)) for image in images]
    )
