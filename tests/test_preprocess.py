import numpy as np
import torch

from bench.train.preprocess import Preprocessing, rotate90_and_crop, rotate_and_flip


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


def _quarter_turns_of_windows(image: torch.Tensor, side: int) -> list[torch.Tensor]:
    """Every quarter turn of every ``side`` x ``side`` window of ``image`` (C, H, W) at a whole-pixel offset."""
    height, width = image.shape[-2:]
    return [torch.rot90(image[:, top : top + side, left : left + side], k, dims=(1, 2))
            for top in range(height - side + 1) for left in range(width - side + 1) for k in range(4)]


def test_quarter_turns_and_crops_copy_pixels_exactly() -> None:
    """PAPERCLIP's augmentation: each output is one quarter turn of one whole-pixel window, pixel for pixel,
    and every turn occurs."""
    images = torch.rand(24, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    for fraction, side in ((1.0, 8), (0.5, 4)):
        out = rotate90_and_crop(images, fraction, torch.Generator().manual_seed(1))
        assert out.shape == (24, 3, side, side)
        turns = set()
        for image, got in zip(images, out, strict=True):
            matches = [i for i, c in enumerate(_quarter_turns_of_windows(image, side))
                       if torch.allclose(got, c, atol=1e-5)]
            assert matches, "not a quarter turn of a window"
            turns.add(matches[0] % 4)
        assert turns == {0, 1, 2, 3}
    assert rotate90_and_crop(images, 0.5, torch.Generator().manual_seed(1), (16, 16)).shape == (24, 3, 16, 16)


def test_preprocessing_applies_its_augmentation_option() -> None:
    prep = Preprocessing(image_size=8, mean=(0.0,) * 3, std=(1 / 255,) * 3, augmentation="rot90_crop",
                         crop_fraction=1.0)
    images = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    batch = prep(images, torch.device("cpu"), augment=True, generator=torch.Generator().manual_seed(2))
    for image, got in zip(torch.from_numpy(images).permute(0, 3, 1, 2).float(), batch, strict=True):
        assert any(torch.allclose(got, torch.rot90(image, k, dims=(1, 2)), atol=1e-3) for k in range(4))
    assert torch.allclose(prep(images, torch.device("cpu")), torch.from_numpy(images).permute(0, 3, 1, 2).float())
