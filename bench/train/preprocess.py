"""Turn uint8 galaxy cutouts into model input, with galaxy-appropriate augmentation, on any device.

One code path for the CPU and the GPU: the uint8 batch goes to the device (or already lives there,
see bench/train/device_data.py) and everything else runs there on the whole batch. With augmentation,
resizing and the random transform (rotation by any angle and mirroring, or PAPERCLIP's quarter turns
and crops) are one bilinear resampling (``grid_sample``); without it, the batch is resized with an
antialiased bilinear filter. Normalisation is one fused multiply-add.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# How ``augment`` varies a training image: rotated by any angle and mirrored half the time (galaxies have no
# up), or PAPERCLIP's random multiple of 90 degrees and random crop (``rotate90_and_crop``).
Augmentation = Literal["rotate_flip", "rot90_crop"]


def to_device(array: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """``array`` as a tensor on ``device``. A host array bound for CUDA goes through pinned memory
    with a non-blocking copy, so the host never waits for the GPU to finish its queued work."""
    tensor = torch.as_tensor(array)
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


@lru_cache(maxsize=32)
def _normaliser(
    mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) with ``pixel * scale + shift == (pixel / 255 - mean) / std``, kept on ``device``."""
    std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    return (1.0 / (255.0 * std_t)).to(device), (-mean_t / std_t).to(device)


@dataclass(frozen=True)
class Preprocessing:
    """A model's input convention: size and normalisation (taken from its weights' config)."""

    image_size: int
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    channels_last: bool = False  # faster for convolutional nets
    augmentation: Augmentation = "rotate_flip"
    crop_fraction: float = 0.875  # rot90_crop: the crop's side over the image's (224 of 256 px)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __call__(
        self,
        images: np.ndarray | torch.Tensor,
        device: torch.device,
        augment: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """uint8 (n, H, W, 3) -> normalised float (n, 3, S, S) on ``device``."""
        batch = to_device(images, device).permute(0, 3, 1, 2).float()
        size = (self.image_size, self.image_size)
        if augment and self.augmentation == "rot90_crop":
            batch = rotate90_and_crop(batch, self.crop_fraction, generator, size)
        elif augment:
            batch = rotate_and_flip(batch, generator, size)
        elif batch.shape[-2:] != size:
            batch = F.interpolate(batch, size=size, mode="bilinear", antialias=True, align_corners=False)
        scale, shift = _normaliser(self.mean, self.std, device)
        batch = torch.addcmul(shift, batch, scale)
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch


def rotate_and_flip(
    batch: torch.Tensor, generator: torch.Generator | None = None, size: tuple[int, int] | None = None
) -> torch.Tensor:
    """Rotate each image by a random angle in [0, 2 pi), mirror half of them, and resample to ``size``
    (default: unchanged), all in one bilinear ``grid_sample``.

    Rotations plus one mirror cover every orientation of a galaxy on the sky. Corners
    outside the rotated frame are filled by reflection, so no black wedges appear. The random
    draws come from ``generator`` on the CPU, so a seed gives the same augmentation on any device.
    """
    n = batch.shape[0]
    angles = torch.rand(n, generator=generator) * (2 * math.pi)
    mirror = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angles), torch.sin(angles)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * mirror
    theta[:, 0, 1] = -sin
    theta[:, 1, 0] = sin * mirror
    theta[:, 1, 1] = cos
    height, width = size or batch.shape[-2:]
    grid = F.affine_grid(to_device(theta, batch.device), [n, batch.shape[1], height, width], align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def rotate90_and_crop(
    batch: torch.Tensor, crop_fraction: float, generator: torch.Generator | None = None,
    size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Turn each image by a random multiple of 90 degrees and take a random window of ``crop_fraction`` of
    its sides at a whole-pixel offset, resampled to ``size`` (default: the window's), in one bilinear
    ``grid_sample``: PAPERCLIP's augmentation (random quarter turns and random crops to 224 px, i.e. a
    window of 224/256 of a 256 px cutout). Where the window is ``size`` the pixels are copied exactly. The
    random draws come from ``generator`` on the CPU."""
    n, _, height, width = batch.shape
    window = (max(1, round(crop_fraction * height)), max(1, round(crop_fraction * width)))
    quarter = torch.randint(0, 4, (n,), generator=generator)
    top = torch.randint(0, height - window[0] + 1, (n,), generator=generator)
    left = torch.randint(0, width - window[1] + 1, (n,), generator=generator)
    cos = torch.tensor([1.0, 0.0, -1.0, 0.0])[quarter]
    sin = torch.tensor([0.0, 1.0, 0.0, -1.0])[quarter]
    scale_x, scale_y = window[1] / width, window[0] / height  # the window in the input's [-1, 1] coordinates
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos * scale_x, -sin * scale_x
    theta[:, 1, 0], theta[:, 1, 1] = sin * scale_y, cos * scale_y
    theta[:, 0, 2] = (2 * left + window[1]) / width - 1
    theta[:, 1, 2] = (2 * top + window[0]) / height - 1
    out_height, out_width = size or window
    grid = F.affine_grid(to_device(theta, batch.device), [n, batch.shape[1], out_height, out_width],
                         align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
