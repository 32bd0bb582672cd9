import numpy as np
import torch

from bench.train.preprocess import Preprocessing, rotate_and_flip


def _disc(size: int = 32) -> torch.Tensor:
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    image = (np.hypot(x, y) < size / 4).astype(np.float32)
    return torch.from_numpy(np.repeat(image[None, None], 3, axis=1))


def test_rotation_keeps_a_centred_disc() -> None:
    disc = _disc().repeat(8, 1, 1, 1)
    rotated = rotate_and_flip(disc, torch.Generator().manual_seed(0))
    assert rotated.shape == disc.shape
    assert (rotated - disc).abs().mean() < 0.03


def test_rotation_moves_an_off_centre_blob() -> None:
    image = torch.zeros(16, 3, 32, 32)
    image[:, :, 2:8, 14:18] = 1.0  # near the top edge
    rotated = rotate_and_flip(image, torch.Generator().manual_seed(1))
    tops = rotated[:, 0, :10, :].sum(dim=(1, 2))
    assert (tops < 0.5 * image[0, 0, :10].sum()).any()  # some rotations move it away from the top


def test_preprocessing_resizes_and_normalises() -> None:
    prep = Preprocessing(image_size=48, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    images = np.full((2, 64, 64, 3), 255, dtype=np.uint8)
    batch = prep(images, torch.device("cpu"))
    assert batch.shape == (2, 3, 48, 48)
    assert torch.allclose(batch, torch.full_like(batch, 2.0))


def test_channels_last_layout() -> None:
    prep = Preprocessing(image_size=16, channels_last=True)
    batch = prep(np.zeros((2, 16, 16, 3), dtype=np.uint8), torch.device("cpu"), augment=True)
    assert batch.is_contiguous(memory_format=torch.channels_last)


def test_augmentation_resizes_in_the_same_resampling() -> None:
    """64 px cutouts rotated and resized to 32 px in one grid_sample: a centred disc stays the disc
    drawn at 32 px, whatever the angle."""
    prep = Preprocessing(image_size=32, mean=(0.0,) * 3, std=(1.0,) * 3)
    images = (_disc(64).permute(0, 2, 3, 1).repeat(8, 1, 1, 1) * 255).to(torch.uint8).numpy()
    batch = prep(images, torch.device("cpu"), augment=True, generator=torch.Generator().manual_seed(0))
    assert batch.shape == (8, 3, 32, 32)
    assert (batch - _disc(32)).abs().mean() < 0.05


def test_uint8_tensors_and_arrays_give_the_same_batch() -> None:
    """Resident data arrives as a uint8 tensor, host data as a numpy array: one code path for both."""
    images = np.random.default_rng(0).integers(0, 256, (4, 20, 20, 3), dtype=np.uint8)
    prep = Preprocessing(image_size=16, channels_last=True)
    from_array = prep(images, torch.device("cpu"), augment=True, generator=torch.Generator().manual_seed(3))
    from_tensor = prep(torch.from_numpy(images), torch.device("cpu"), augment=True,
                       generator=torch.Generator().manual_seed(3))
    assert torch.equal(from_array, from_tensor)
