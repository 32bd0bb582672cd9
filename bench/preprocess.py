"""Turn uint8 galaxy cutouts into model input, with galaxy-appropriate augmentation, on any device."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """A model's input convention: size and normalisation (taken from its weights' config)."""

    image_size: int
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    channels_last: bool = False  # faster for convolutional nets

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
        batch = torch.as_tensor(images).to(device, non_blocking=True)
        batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
        if batch.shape[-1] != self.image_size or batch.shape[-2] != self.image_size:
            batch = F.interpolate(
                batch, size=(self.image_size, self.image_size), mode="bilinear", antialias=True, align_corners=False
            )
        if augment:
            batch = rotate_and_flip(batch, generator)
        mean = torch.tensor(self.mean, device=device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, -1, 1, 1)
        batch = (batch - mean) / std
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch


def rotate_and_flip(batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotate each image by a random angle in [0, 2 pi) and mirror half of them.

    Rotations plus one mirror cover every orientation of a galaxy on the sky. Corners
    outside the rotated frame are filled by reflection, so no black wedges appear.
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
    grid = F.affine_grid(theta.to(batch.device), list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
