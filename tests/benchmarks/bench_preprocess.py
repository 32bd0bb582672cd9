"""Our batched preprocessing + augmentation (bench.train.preprocess, on the batch's device) against the
PIL/torchvision pipeline a typical fine-tuning script runs per image on the CPU (the reference loop
of `bench perf`): random rotation, flips, resize, ToTensor, Normalize."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from ratios import timed
from torchvision import transforms

from bench.perf.reference_loop import pil_transform
from bench.train.preprocess import Preprocessing

CASES = [(256, 224), (64, 64)]  # Galaxy10 DECaLS cutouts for the paper's 224 px models; the demo's 64 px
BATCH = 64


def cutouts(side: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (BATCH, side, side, 3), dtype=np.uint8)


def pil_batch(images: np.ndarray, prep: Preprocessing, augment: bool = True) -> torch.Tensor:
    transform = pil_transform(prep)
    if not augment:  # only Resize, ToTensor, Normalize
        transform = transforms.Compose(transform.transforms[-3:])
    return torch.stack([transform(Image.fromarray(image)) for image in images])


@pytest.mark.parametrize(("side", "size"), CASES)
def test_ours(benchmark: object, side: int, size: int) -> None:
    images, prep = cutouts(side), Preprocessing(image_size=size)
    generator = torch.Generator().manual_seed(0)
    batch = timed(benchmark, f"augment {BATCH} x {side} px -> {size} px", "ours", BATCH,
                  lambda: prep(images, torch.device("cpu"), augment=True, generator=generator))
    assert batch.shape == (BATCH, 3, size, size) and batch.dtype == torch.float32


@pytest.mark.parametrize(("side", "size"), CASES)
def test_pil_reference(benchmark: object, side: int, size: int) -> None:
    images, prep = cutouts(side), Preprocessing(image_size=size)
    batch = timed(benchmark, f"augment {BATCH} x {side} px -> {size} px", "reference", BATCH,
                  lambda: pil_batch(images, prep))
    assert batch.shape == (BATCH, 3, size, size)
    # Without augmentation both are an antialiased bilinear resize and the same normalisation; PIL
    # rounds to uint8 after resizing, hence the tolerance (about one grey level).
    ours = prep(images, torch.device("cpu"))
    theirs = pil_batch(images, prep, augment=False)
    assert (ours - theirs).abs().mean() < 0.02
