"""The naive reference the fast path is compared with: a typical fine-tuning script's loop.

A torch DataLoader whose workers turn each image into a PIL image and augment it on the CPU with
torchvision transforms (random rotation, flips, resize, ToTensor, Normalize), fp32 (no autocast),
the default memory format and torch's default AdamW. The images are handed out as uint8 arrays,
as Galaxy10 DECaLS and GalaxyMNIST store them (no file decoding), so the reference is not slowed
by anything our path skips. It trains the method's own model and loss, captured from its fine-tune.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torchvision import transforms

from bench.api.data import GalaxyData
from bench.train.loop import FitCall
from bench.train.preprocess import Preprocessing


def pil_transform(prep: Preprocessing) -> transforms.Compose:
    """The usual torchvision augmentation to ``prep``'s input convention."""
    return transforms.Compose(
        [
            transforms.RandomRotation(180, interpolation=transforms.InterpolationMode.BILINEAR),
            transforms.RandomHorizontalFlip(),
            transforms.RandomVerticalFlip(),
            transforms.Resize((prep.image_size, prep.image_size), antialias=True),
            transforms.ToTensor(),
            transforms.Normalize(prep.mean, prep.std),
        ]
    )


class PilAugmented(Dataset[tuple[torch.Tensor, int]]):
    """``data``'s images one by one, as PIL images through ``pil_transform``."""

    def __init__(self, data: GalaxyData, prep: Preprocessing) -> None:
        self.data = data
        self.transform = pil_transform(prep)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = Image.fromarray(self.data.read(np.array([index]))[0])
        return self.transform(image), int(self.data.labels[index])


def reference_step(call: FitCall, steps: int, num_workers: int) -> Callable[[], int]:
    """One step of the naive loop per call (for ``steps`` calls) on ``call``'s model, loss and data;
    each returns its batch's image count. Puts the model in the default memory format."""
    module = call.objective.module.to(memory_format=torch.contiguous_format)
    module.train()
    parameters: list[Any] = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=call.cfg.lr, weight_decay=call.cfg.weight_decay)
    batch_size = call.cfg.batch_size
    sampler = RandomSampler(range(len(call.train)), replacement=True, num_samples=batch_size * steps)
    loader = DataLoader(PilAugmented(call.train, call.prep), batch_size, sampler=sampler, num_workers=num_workers)
    batches = iter(loader)

    def step() -> int:
        images, labels = next(batches)
        terms = call.objective.loss(images.to(call.device), labels.to(call.device))
        optimizer.zero_grad()
        terms["loss"].backward()
        optimizer.step()
        if call.objective.after_step is not None:
            call.objective.after_step()
        return len(images)

    return step
