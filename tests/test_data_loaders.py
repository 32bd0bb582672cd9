"""Real-dataset loaders: Galaxy10, GalaxyMNIST, the user's own folder, the lazy HDF5 source and fetch."""

from __future__ import annotations

import gzip
import hashlib
import multiprocessing
import os
import pickle
import urllib.error
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from PIL import Image

from bench.api import registry
from bench.api.data import ArraySource, DataOptions, DatasetSplits, GalaxyData, SubsetSource
from bench.api.errors import BenchError
from bench.data import fetch as fetch_module
from bench.data import folder, galaxy10, galaxy_mnist, hdf5
from bench.data.fetch import RemoteFile, fetch
from bench.data.folder import FolderImageSource
from bench.data.hdf5 import H5ImageSource, open_labelled_h5
from bench.data.splits import NO_TRAIN_DUPLICATES

REAL_SAMPLES = Path(__file__).parents[2] / "shared/data/real-samples"
SIZE = 8


def make_images(n: int, size: int = SIZE) -> np.ndarray:
    """uint8 (n, size, size, 3) images whose pixels all equal their index (mod 256)."""
    return np.broadcast_to(
        (np.arange(n) % 256).astype(np.uint8)[:, None, None, None], (n, size, size, 3)
    ).copy()


def balanced_labels(per_class: int, num_classes: int) -> np.ndarray:
    return np.tile(np.arange(num_classes), per_class)


def write_h5(path: Path, images: np.ndarray, labels: np.ndarray, label_key: str = "labels") -> Path:
    with h5py.File(path, "w") as file:
        file["images"] = images
        file[label_key] = labels
    return path


def assert_bench_error(error: pytest.ExceptionInfo[BenchError], *parts: str) -> None:
    message = str(error.value)
    assert "Fix:" in message and "\n" not in message, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


def file_indices(data: GalaxyData) -> np.ndarray:
    """Which images of the underlying file a split holds."""
    assert isinstance(data.source, SubsetSource)
    return data.source.indices


def check_partition(splits: DatasetSplits, total: int) -> None:
    """train / val / test are disjoint and together cover every image of the file."""
    indices = [file_indices(split) for split in (splits.train, splits.val, splits.test)]
    assert sum(len(i) for i in indices) == total
    assert len(np.unique(np.concatenate(indices))) == total


def class_counts(labels: np.ndarray, num_classes: int) -> list[int]:
    return np.bincount(labels, minlength=num_classes).tolist()


# --- Galaxy10 -------------------------------------------------------------------------------------


@pytest.fixture
def galaxy10_file(tmp_path: Path) -> Path:
    labels = balanced_labels(20, 10)
    return write_h5(tmp_path / galaxy10.FILE_NAME, make_images(len(labels)), labels, label_key="ans")


def test_galaxy10_loads_a_stratified_80_10_10_split(galaxy10_file: Path) -> None:
    splits = galaxy10.load(DataOptions(path=str(galaxy10_file)))
    assert splits.class_names == galaxy10.CLASS_NAMES and len(splits.class_names) == 10
    assert (
        splits.class_names[3] == "In-between Round Smooth" and splits.class_names[9] == "Edge-on with Bulge"
    )
    assert (len(splits.train), len(splits.val), len(splits.test)) == (160, 20, 20)
    assert class_counts(splits.train.labels, 10) == [16] * 10
    assert (
        class_counts(splits.val.labels, 10) == [2] * 10 and class_counts(splits.test.labels, 10) == [2] * 10
    )
    check_partition(splits, 200)
    assert "80% train / 10% val / 10% test" in splits.protocol and "split seed 0" in splits.protocol
    images = splits.val.read(np.arange(len(splits.val)))
    assert images.shape == (20, SIZE, SIZE, 3) and images.dtype == np.uint8
    assert np.array_equal(images[:, 0, 0, 0], file_indices(splits.val))  # pixels encode the file index
    assert np.array_equal(splits.val.labels, file_indices(splits.val) % 10)


def test_galaxy10_split_is_fixed_by_the_seed(galaxy10_file: Path) -> None:
    def test_indices(seed: int) -> np.ndarray:
        return file_indices(galaxy10.load(DataOptions(path=str(galaxy10_file), split_seed=seed)).test)

    assert np.array_equal(test_indices(3), test_indices(3))
    assert not np.array_equal(test_indices(3), test_indices(4))


@pytest.mark.parametrize("how", ["path_file", "path_folder", "data_dir", "env"])
def test_galaxy10_finds_its_file(
    galaxy10_file: Path, how: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "elsewhere"))
    options = {
        "path_file": DataOptions(path=str(galaxy10_file), data_dir=str(tmp_path / "elsewhere")),
        "path_folder": DataOptions(path=str(galaxy10_file.parent)),
        "data_dir": DataOptions(data_dir=str(galaxy10_file.parent)),
        "env": DataOptions(),
    }[how]
    if how == "env":
        monkeypatch.setenv("BENCH_DATA_DIR", str(galaxy10_file.parent))
    assert len(galaxy10.load(options).train) == 160


def test_galaxy10_without_any_location_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_DATA_DIR", raising=False)
    with pytest.raises(BenchError) as error:
        galaxy10.load(DataOptions())
    assert_bench_error(
        error, "Galaxy10 DECaLS", "--data-path", "BENCH_DATA_DIR", "bench data fetch galaxy10_decals"
    )


def test_galaxy10_folder_without_the_file_names_both(tmp_path: Path) -> None:
    with pytest.raises(BenchError) as error:
        galaxy10.load(DataOptions(data_dir=str(tmp_path)))
    assert_bench_error(error, galaxy10.FILE_NAME, str(tmp_path), "bench data fetch galaxy10_decals")


def test_galaxy10_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(BenchError) as error:
        galaxy10.load(DataOptions(path=str(tmp_path / "nope.h5")))
    assert_bench_error(error, str(tmp_path / "nope.h5"), "does not exist", "BENCH_DATA_DIR")


# --- GalaxyMNIST ----------------------------------------------------------------------------------


def write_galaxy_mnist(folder_path: Path, compress: bool, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Official-style train (160) and test (40) files of ``size`` px images, as upstream publishes them
    (gzipped with ``compress``); returns the test images and labels."""
    folder_path.mkdir(parents=True, exist_ok=True)
    train_labels, test_labels = balanced_labels(40, 4), balanced_labels(10, 4)
    images = blocky_images(200, size)
    test_images = images[160:]  # none duplicates a training image
    files = {
        galaxy_mnist.TRAIN_FILE: (images[:160], train_labels),
        galaxy_mnist.TEST_FILE: (test_images, test_labels),
    }
    for name, (images, labels) in files.items():
        plain = write_h5(folder_path / name, images, labels)
        if compress:
            gzip_file(plain)
    return test_images, test_labels


def blocky_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """uint8 (n, size, size, 3) images of random 8 x 8 blocks of colour: distinct, and no two alike to the
    duplicate finder (images of one flat colour are not: at 224 px their thumbnails differ only by rounding)."""
    blocks = np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    return np.repeat(np.repeat(blocks, size // 8, axis=1), size // 8, axis=2)


def gzip_file(plain: Path) -> Path:
    """``plain`` replaced by ``plain.gz``."""
    gz = plain.with_name(f"{plain.name}.gz")
    with gzip.open(gz, "wb", compresslevel=1) as out:
        out.write(plain.read_bytes())
    plain.unlink()
    return gz


RESOLUTIONS = pytest.mark.parametrize("resolution", galaxy_mnist.RESOLUTIONS, ids=lambda r: r.name)


@RESOLUTIONS
@pytest.mark.parametrize("compress", [False, True])
def test_galaxy_mnist_uses_the_whole_official_test_file_and_10_percent_of_train_as_val(
    tmp_path: Path, resolution: galaxy_mnist.Resolution, compress: bool
) -> None:
    side = resolution.image_size
    test_images, test_labels = write_galaxy_mnist(tmp_path / resolution.subfolder, compress, side)
    splits = registry.load_dataset(resolution.name, DataOptions(data_dir=str(tmp_path)))
    assert splits.class_names == ("smooth_round", "smooth_cigar", "edge_on_disk", "unbarred_spiral")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (144, 16, 40)
    assert class_counts(splits.val.labels, 4) == [4] * 4 and class_counts(splits.train.labels, 4) == [36] * 4
    assert not set(file_indices(splits.train)) & set(file_indices(splits.val))
    assert np.array_equal(splits.test.labels, test_labels)
    assert np.array_equal(splits.test.read(np.arange(40)), test_images)
    assert splits.train.read(np.array([0])).shape == (1, side, side, 3)
    assert np.array_equal(splits.test_subsets[NO_TRAIN_DUPLICATES], np.arange(40))  # no duplicates planted
    assert f"official train/test files (160/40, {side} px)" in splits.protocol
    assert "10%" in splits.protocol and "split seed 0" in splits.protocol
    assert "0 of its images duplicate train-file images" in splits.protocol
    assert (tmp_path / resolution.subfolder / galaxy_mnist.TRAIN_FILE).is_file()


def test_galaxy_mnist_224_takes_a_path_to_either_file_as_its_folder(tmp_path: Path) -> None:
    folder_path = tmp_path / "anywhere"
    write_galaxy_mnist(folder_path, compress=True, size=224)
    for name in (f"{galaxy_mnist.TEST_FILE}.gz", galaxy_mnist.TRAIN_FILE):  # the second is unpacked by now
        splits = galaxy_mnist.load_224(DataOptions(path=str(folder_path / name), data_dir=str(tmp_path / "no")))
        assert len(splits.test) == 40 and splits.test.read(np.array([0])).shape == (1, 224, 224, 3)


def galaxy_mnist_224_error(tmp_path: Path, case: str) -> tuple[str, list[str]]:
    """Files in the galaxy_mnist_224 folder (or the 64 px one) that are wrong in one way; the dataset to load
    and the parts its error names."""
    high, low = galaxy_mnist.HIGH_RES, galaxy_mnist.LOW_RES
    folder_path = tmp_path / high.subfolder
    folder_path.mkdir()
    images, labels = make_images(8, 224), balanced_labels(2, 4)
    fetch_hint = "bench data fetch galaxy_mnist_224"
    if case == "no_folder":
        folder_path.rmdir()
        return high.name, [f"{folder_path} does not exist", fetch_hint]
    if case == "not_square":
        images = make_images(8, 100)
        expected = ["holds 100 x 100 images", "galaxy_mnist_224 is GalaxyMNIST at 224 x 224", fetch_hint]
    elif case == "64_px_in_the_224_folder":
        images = make_images(8, 64)
        expected = ["holds 64 x 64 images", "these are galaxy_mnist's files", "run dataset galaxy_mnist",
                    "<data folder>/galaxy_mnist_224/", fetch_hint]
    elif case == "224_px_in_the_64_folder":
        folder_path = tmp_path
        expected = ["holds 224 x 224 images", "galaxy_mnist is GalaxyMNIST at 64 x 64",
                    "these are galaxy_mnist_224's files (they go in <data folder>/galaxy_mnist_224/)",
                    "bench data fetch galaxy_mnist`"]
    elif case == "label_out_of_range":
        labels = labels.copy()
        labels[3] = 4
        expected = ["label 4 at index 3", "outside [0, 4)"]
    else:  # wrong_keys
        expected = ["has no dataset images", "found: labels, pixels", fetch_hint]
    for name in (galaxy_mnist.TRAIN_FILE, galaxy_mnist.TEST_FILE):
        with h5py.File(folder_path / name, "w") as file:
            file["pixels" if case == "wrong_keys" else "images"] = images
            file["labels"] = labels
        gzip_file(folder_path / name)
    return (low if folder_path == tmp_path else high).name, [str(folder_path / galaxy_mnist.TRAIN_FILE), *expected]


@pytest.mark.parametrize(
    "case",
    ["no_folder", "not_square", "64_px_in_the_224_folder", "224_px_in_the_64_folder", "label_out_of_range",
     "wrong_keys"],
)
def test_galaxy_mnist_files_of_the_wrong_kind_or_resolution_give_one_line_errors(tmp_path: Path, case: str) -> None:
    name, expected = galaxy_mnist_224_error(tmp_path, case)
    with pytest.raises(BenchError) as error:
        registry.load_dataset(name, DataOptions(data_dir=str(tmp_path)))
    assert_bench_error(error, *expected)


def test_galaxy_mnist_val_is_fixed_by_the_seed(tmp_path: Path) -> None:
    write_galaxy_mnist(tmp_path, compress=False)

    def val_indices(seed: int) -> np.ndarray:
        return file_indices(galaxy_mnist.load(DataOptions(path=str(tmp_path), split_seed=seed)).val)

    assert np.array_equal(val_indices(1), val_indices(1))
    assert not np.array_equal(val_indices(1), val_indices(2))


def test_galaxy_mnist_decompresses_only_once(tmp_path: Path) -> None:
    write_galaxy_mnist(tmp_path, compress=True)
    galaxy_mnist.load(DataOptions(path=str(tmp_path / f"{galaxy_mnist.TRAIN_FILE}.gz")))
    plain = tmp_path / galaxy_mnist.TRAIN_FILE
    first = plain.stat().st_mtime_ns
    galaxy_mnist.load(DataOptions(path=str(tmp_path)))
    assert plain.stat().st_mtime_ns == first
    assert not list(tmp_path.glob("*.part"))


def test_galaxy_mnist_decompresses_into_the_cache_when_the_folder_is_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "read_only"
    write_galaxy_mnist(data, compress=True)
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    real_mkstemp = hdf5.tempfile.mkstemp

    def mkstemp(dir: Path, **kwargs: Any) -> tuple[int, str]:  # tests run as root, so chmod cannot forbid
        if Path(dir) == data:
            raise PermissionError(13, "Permission denied", str(dir))
        return real_mkstemp(dir=dir, **kwargs)

    monkeypatch.setattr(hdf5.tempfile, "mkstemp", mkstemp)
    splits = galaxy_mnist.load(DataOptions(path=str(data)))
    assert len(splits.test) == 40
    assert not (data / galaxy_mnist.TRAIN_FILE).exists()
    cached = list((tmp_path / "cache").rglob(galaxy_mnist.TRAIN_FILE))
    train_source = splits.train.source
    assert isinstance(train_source, SubsetSource) and isinstance(train_source.parent, H5ImageSource)
    assert len(cached) == 1 and train_source.parent.path == cached[0]


@pytest.mark.parametrize("damage", ["not_gzip", "truncated"])
def test_galaxy_mnist_corrupt_gzip_is_a_bench_error(tmp_path: Path, damage: str) -> None:
    write_galaxy_mnist(tmp_path, compress=True)
    gz = tmp_path / f"{galaxy_mnist.TRAIN_FILE}.gz"
    gz.write_bytes(b"this is not gzip" if damage == "not_gzip" else gz.read_bytes()[:200])
    with pytest.raises(BenchError) as error:
        galaxy_mnist.load(DataOptions(path=str(tmp_path)))
    assert_bench_error(error, str(gz), "gzip", "bench data fetch galaxy_mnist")
    assert not (tmp_path / galaxy_mnist.TRAIN_FILE).exists() and not list(tmp_path.glob(".*part"))


def test_galaxy_mnist_missing_test_file_is_named(tmp_path: Path) -> None:
    write_galaxy_mnist(tmp_path, compress=False)
    (tmp_path / galaxy_mnist.TEST_FILE).unlink()
    with pytest.raises(BenchError) as error:
        galaxy_mnist.load(DataOptions(path=str(tmp_path)))
    assert_bench_error(error, galaxy_mnist.TEST_FILE, str(tmp_path), "bench data fetch galaxy_mnist")


def test_galaxy_mnist_reads_the_real_sample(tmp_path: Path) -> None:
    sample = REAL_SAMPLES / "galaxy_mnist_40.hdf5"
    if not sample.is_file():
        pytest.skip(f"real sample {sample} not present")
    write_h5(tmp_path / galaxy_mnist.TRAIN_FILE, make_images(40, 64), balanced_labels(10, 4))
    (tmp_path / galaxy_mnist.TEST_FILE).symlink_to(sample)  # link, never copy
    splits = galaxy_mnist.load(DataOptions(path=str(tmp_path)))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (36, 4, 40)
    assert class_counts(splits.test.labels, 4) == [10] * 4
    images = splits.test.read(np.array([39, 0]))
    assert images.shape == (2, 64, 64, 3) and images.dtype == np.uint8
    assert images.std() > 10  # real galaxies, not a blank array


def test_galaxy_mnist_test_file_copying_the_train_file_is_an_error(tmp_path: Path) -> None:
    for name in (galaxy_mnist.TRAIN_FILE, galaxy_mnist.TEST_FILE):
        write_h5(tmp_path / name, blocky_images(40, 64), balanced_labels(10, 4))
    with pytest.raises(BenchError) as error:
        galaxy_mnist.load(DataOptions(path=str(tmp_path)))
    assert "duplicates" in str(error.value)


# --- the lazy HDF5 source -------------------------------------------------------------------------


@pytest.fixture
def h5_source(tmp_path: Path) -> H5ImageSource:
    return H5ImageSource(write_h5(tmp_path / "s.h5", make_images(12), balanced_labels(3, 4)), "images")


def test_lazy_source_returns_requested_order_with_repeats(h5_source: H5ImageSource) -> None:
    requested = np.array([7, 2, 7, 11, 0, 2])
    images = h5_source.read(requested)
    assert images.shape == (6, SIZE, SIZE, 3) and images.dtype == np.uint8
    assert images[:, 0, 0, 0].tolist() == requested.tolist()
    assert h5_source.read(np.array([], dtype=np.int64)).shape == (0, SIZE, SIZE, 3)
    assert len(h5_source) == 12


def test_lazy_source_reads_only_the_requested_images(
    h5_source: H5ImageSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    selections: list[Any] = []
    real_getitem = h5py.Dataset.__getitem__

    def spy(dataset: h5py.Dataset, selection: object) -> np.ndarray:
        selections.append(selection)
        return real_getitem(dataset, selection)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    h5_source.read(np.array([9, 3, 9, 5]))
    h5_source.read(np.array([6, 4, 5]))
    assert np.array_equal(selections[0], [3, 5, 9])  # sorted and unique, as h5py requires
    assert selections[1] == slice(4, 7)


def _read_first_two(source: H5ImageSource) -> tuple[list[int], bool]:
    """What a DataLoader worker would read, and whether it opened the file itself."""
    return source.read(np.array([1, 0]))[:, 0, 0, 0].tolist(), source._pid == os.getpid()


def _send_read(source: H5ImageSource, connection: Connection) -> None:
    connection.send(_read_first_two(source))


def test_lazy_source_survives_pickling_and_fork(h5_source: H5ImageSource) -> None:
    h5_source.read(np.array([0]))  # the file is now open in this process
    assert _read_first_two(pickle.loads(pickle.dumps(h5_source))) == ([1, 0], True)
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_send_read, args=(h5_source, sender))  # inherited, not pickled
    worker.start()
    assert receiver.poll(20) and receiver.recv() == ([1, 0], True)
    worker.join()
    assert _read_first_two(h5_source) == ([1, 0], True)


def test_materialize_reads_every_image(galaxy10_file: Path) -> None:
    test = galaxy10.load(DataOptions(path=str(galaxy10_file))).test.materialize()
    assert isinstance(test.source, ArraySource) and test.source.images.shape == (20, SIZE, SIZE, 3)


# --- validation of HDF5 files ---------------------------------------------------------------------


def _bad_file(tmp_path: Path, case: str) -> Path:
    path = tmp_path / "bad.h5"
    images, labels = make_images(4), np.array([0, 1, 2, 3])
    if case == "not_hdf5":
        path.write_bytes(b"plain text, not HDF5" * 20)
    elif case == "truncated":
        write_h5(path, make_images(40, 32), np.arange(40) % 4)
        path.write_bytes(path.read_bytes()[:5000])
    elif case == "missing_key":
        with h5py.File(path, "w") as file:
            file["images"] = images
            file["y"] = labels
    else:
        bad = {
            "grayscale": (images[..., 0], labels),
            "float_images": (images.astype(np.float32), labels),
            "no_images": (images[:0], labels[:0]),
            "count_mismatch": (images, labels[:3]),
            "label_too_big": (images, np.array([0, 1, 4, 3])),
            "label_negative": (images, np.array([0, -1, 2, 3])),
            "label_fraction": (images, np.array([0.0, 1.5, 2.0, 3.0])),
            "label_text": (images, np.array([b"a", b"b", b"c", b"d"])),
        }[case]
        write_h5(path, *bad)
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("not_hdf5", ["not a readable HDF5 file", "bench data fetch demo"]),
        ("truncated", ["not a readable HDF5 file", "bench data fetch demo"]),
        ("missing_key", ["no dataset labels", "found: images, y", "expected: images, labels"]),
        ("grayscale", ["shape (4, 8, 8)", "uint8 (N, H, W, 3)"]),
        ("float_images", ["float32", "uint8 (N, H, W, 3)"]),
        ("no_images", ["holds no images"]),
        ("count_mismatch", ["4 images", "shape (3,)"]),
        ("label_too_big", ["label 4 at index 2", "outside [0, 4)"]),
        ("label_negative", ["label -1 at index 1", "outside [0, 4)"]),
        ("label_fraction", ["label 1.5 at index 1", "not an integer"]),
        ("label_text", ["dtype |S1", "not integer labels"]),
    ],
)
def test_bad_hdf5_files_give_one_line_errors_naming_the_file(
    tmp_path: Path, case: str, expected: list[str]
) -> None:
    path = _bad_file(tmp_path, case)
    with pytest.raises(BenchError) as error:
        open_labelled_h5(path, "images", "labels", 4, "Demo", "bench data fetch demo")
    assert_bench_error(error, str(path), *expected)


def test_missing_hdf5_file_says_where_data_can_come_from(tmp_path: Path) -> None:
    with pytest.raises(BenchError) as error:
        open_labelled_h5(tmp_path / "gone.h5", "images", "labels", 4, "Demo", "bench data fetch demo")
    assert_bench_error(
        error, str(tmp_path / "gone.h5"), "--data-path", "BENCH_DATA_DIR", "bench data fetch demo"
    )


def test_whole_float_labels_are_accepted_as_int64(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "f.h5", make_images(4), np.array([0.0, 1.0, 3.0, 2.0]))
    _, labels = open_labelled_h5(path, "images", "labels", 4, "Demo", "bench data fetch demo")
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 3, 2]


# --- the user's own folder ------------------------------------------------------------------------


def save_image(
    path: Path, size: tuple[int, int], color: tuple[int, int, int], mode: str = "RGB", texture: int | None = None
) -> Path:
    """A solid ``color`` image; with ``texture`` (a seed), its top quarter is noise, so that no two
    images are duplicates (the loaders drop or group duplicates)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.broadcast_to(np.array(color, dtype=np.uint8), (size[1], size[0], 3)).copy()
    if texture is not None:
        pixels[: size[1] // 4, 1:] = np.random.default_rng(texture).integers(0, 256, pixels[: size[1] // 4, 1:].shape)
    Image.fromarray(pixels).convert(mode).save(path)
    return path


def make_class_folders(root: Path, per_class: int = 20) -> None:
    for k, (name, color) in enumerate((("spiral", (200, 0, 0)), ("elliptical", (0, 200, 0)))):
        for i in range(per_class):
            save_image(root / name / f"{i:03d}.png", (12, 12), color, texture=k * per_class + i)


def test_folder_layout_loads_classes_in_sorted_order_with_70_15_15(tmp_path: Path) -> None:
    make_class_folders(tmp_path)
    (tmp_path / "spiral" / "notes.txt").write_text("not an image")
    splits = folder.load(DataOptions(path=str(tmp_path)))
    assert splits.class_names == ("elliptical", "spiral")
    assert (len(splits.train), len(splits.val), len(splits.test)) == (28, 6, 6)
    assert class_counts(splits.test.labels, 2) == [3, 3]
    check_partition(splits, 40)
    assert "70% train / 15% val / 15% test" in splits.protocol
    images = splits.test.read(np.arange(6))
    assert images.shape == (6, folder.FOLDER_SIDE, folder.FOLDER_SIDE, 3) and images.dtype == np.uint8
    green = splits.test.labels == 0  # elliptical images are green
    half = folder.FOLDER_SIDE // 2  # away from the noise band at the top, upscaled from 12 px
    colour = images[:, half:, half:, :].mean(axis=(1, 2))
    assert (np.abs(colour[green, 1] - 200) < 8).all() and (np.abs(colour[~green, 0] - 200) < 8).all()
    assert (colour[green, 0] < 20).all() and (colour[~green, 1] < 20).all()


def test_csv_layout_reads_relative_paths_and_label_names(tmp_path: Path) -> None:
    rows = ["path,label"]
    for i in range(10):
        for label, color in (("smooth", (10, 10, 10)), ("disk", (90, 90, 90)), ("bar", (170, 170, 170))):
            save_image(tmp_path / "cutouts" / f"{label}{i}.jpg", (16, 16), color, texture=len(rows))
            rows.append(f"cutouts/{label}{i}.jpg,{label}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    splits = folder.load(DataOptions(path=str(tmp_path / "labels.csv")))
    assert splits.class_names == ("bar", "disk", "smooth")
    assert len(splits.train) + len(splits.val) + len(splits.test) == 30
    assert class_counts(splits.val.labels, 3) == [2, 2, 2]
    images = splits.val.read(np.arange(6))
    assert images.shape == (6, folder.FOLDER_SIDE, folder.FOLDER_SIDE, 3)
    expected = np.array([170, 90, 10])[splits.val.labels]
    half = folder.FOLDER_SIDE // 2
    solid_part = images[:, half:, half:, 0].mean(axis=(1, 2))  # away from the noise band at the top
    assert np.abs(solid_part - expected).max() <= 6  # jpeg is lossy


def test_folder_source_crops_and_resizes_mixed_sizes(tmp_path: Path) -> None:
    wide = Image.new("RGB", (30, 10), (0, 0, 255))
    wide.paste((255, 0, 0), (10, 0, 20, 10))  # only the centre square is red
    wide.save(tmp_path / "wide.png")
    paths = [
        save_image(tmp_path / "a.png", (16, 16), (0, 255, 0)),
        save_image(tmp_path / "b.png", (40, 40), (0, 255, 0)),
        save_image(tmp_path / "gray.png", (20, 20), (100, 100, 100), mode="L"),
        tmp_path / "wide.png",
    ]
    source = FolderImageSource(paths, size=16)
    assert source.size == 16 and len(source) == 4
    images = source.read(np.array([3, 0, 1, 2]))
    assert images.shape == (4, 16, 16, 3) and images.dtype == np.uint8
    assert (images[0] == [255, 0, 0]).all()  # the blue sides were cropped away
    assert (images[3] == 100).all()  # grayscale became RGB
    # Whatever the first image's size, every image is read at the working side (a huge first image once
    # made every image huge).
    assert FolderImageSource(paths[::-1]).size == FolderImageSource(paths).size == folder.FOLDER_SIDE
    assert FolderImageSource(paths, size=24).read(np.array([1])).shape == (1, 24, 24, 3)
    assert pickle.loads(pickle.dumps(source)).read(np.array([0])).shape == (1, 16, 16, 3)


def test_16_bit_images_are_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)  # 0 .. 63000
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    [image] = FolderImageSource([tmp_path / "deep.png"], size=8).read(np.array([0]))
    assert np.array_equal(image[..., 0], np.round(ramp / 257.0).astype(np.uint8))  # not 255 everywhere
    assert (image[..., 0] == 255).mean() < 0.05


def test_a_csv_path_outside_its_folder_is_refused_and_thin_classes_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = save_image(tmp_path / "elsewhere.png", (8, 8), (1, 2, 3))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "labels.csv").write_text(f"path,label\n../{outside.name},spiral\n")
    with pytest.raises(BenchError) as error:
        folder.load(DataOptions(path=str(tmp_path / "data" / "labels.csv")))
    assert_bench_error(error, "outside the CSV's folder", "--allow-outside-paths")
    allowed = DataOptions(path=str(tmp_path / "data" / "labels.csv"), allow_outside_paths=True)
    assert folder._read_csv(Path(allowed.path), allow_outside=True)[0] == [tmp_path / "data" / ".." / outside.name]
    make_class_folders(tmp_path / "classes", per_class=20)
    save_image(tmp_path / "classes" / "merger" / "a.png", (12, 12), (9, 9, 9))
    folder.load(DataOptions(path=str(tmp_path / "classes")))
    assert "class(es) merger (1) have fewer than 3 images" in capsys.readouterr().err


def test_corrupt_image_is_named_when_read(tmp_path: Path) -> None:
    make_class_folders(tmp_path, per_class=4)
    broken = tmp_path / "spiral" / "000.png"
    broken.write_bytes(broken.read_bytes()[:40])
    with pytest.raises(BenchError) as error:  # loading reads every image (to find duplicates)
        folder.load(DataOptions(path=str(tmp_path)))
    assert_bench_error(error, str(broken), "cannot read image")


def _folder_error_case(tmp_path: Path, case: str) -> tuple[Path, list[str]]:
    if case == "empty_folder":
        return tmp_path, [str(tmp_path), "no class subfolders"]
    if case == "class_without_images":
        make_class_folders(tmp_path, per_class=3)
        (tmp_path / "merger").mkdir()
        (tmp_path / "merger" / "readme.txt").write_text("todo")
        return tmp_path, [str(tmp_path / "merger"), "has no images"]
    if case == "one_class":
        save_image(tmp_path / "spiral" / "a.png", (8, 8), (1, 2, 3))
        return tmp_path, [str(tmp_path), "only one class"]
    if case == "first_image_unreadable":
        make_class_folders(tmp_path, per_class=3)
        (tmp_path / "elliptical" / "000.png").write_bytes(b"not a png")
        return tmp_path, [str(tmp_path / "elliptical" / "000.png"), "cannot read image"]
    if case == "missing_path":
        return tmp_path / "nowhere", [str(tmp_path / "nowhere"), "does not exist"]
    csv_path = tmp_path / "labels.csv"
    save_image(tmp_path / "a.png", (8, 8), (1, 2, 3))
    text, expected = {
        "csv_missing_column": ("file,label\na.png,spiral\n", ["lacks column path", "found: file, label"]),
        "csv_missing_file": ("path,label\na.png,spiral\nb.png,bar\n", ["line 3", str(tmp_path / "b.png")]),
        "csv_missing_label": ("path,label\na.png,\n", ["line 2", "lacks a path or a label"]),
        "csv_no_rows": ("path,label\n", ["lists no images"]),
    }[case]
    csv_path.write_text(text)
    return csv_path, [str(csv_path), *expected]


@pytest.mark.parametrize(
    "case",
    [
        "empty_folder",
        "class_without_images",
        "one_class",
        "first_image_unreadable",
        "missing_path",
        "csv_missing_column",
        "csv_missing_file",
        "csv_missing_label",
        "csv_no_rows",
    ],
)
def test_folder_errors_name_the_file_and_the_fix(tmp_path: Path, case: str) -> None:
    path, expected = _folder_error_case(tmp_path, case)
    with pytest.raises(BenchError) as error:
        folder.load(DataOptions(path=str(path)))
    assert_bench_error(error, *expected)


def test_folder_without_a_path_says_how_to_give_one() -> None:
    with pytest.raises(BenchError) as error:
        folder.load(DataOptions(data_dir="/somewhere"))
    assert_bench_error(error, "--data-path", "path,label")


# --- fetch ----------------------------------------------------------------------------------------


def serve(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, payload: bytes, checksum: str | None
) -> RemoteFile:
    """Make ``galaxy_mnist`` download ``payload`` from a local file:// URL."""
    served = tmp_path / "server" / "train.bin"
    served.parent.mkdir()
    served.write_bytes(payload)
    remote = RemoteFile(served.as_uri(), "train.bin", "md5", checksum, "test")
    monkeypatch.setitem(fetch_module.SOURCES, galaxy_mnist.NAME, (remote,))
    return remote


def test_fetch_downloads_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = np.random.default_rng(0).bytes(3 * fetch_module.CHUNK_BYTES + 17)
    serve(monkeypatch, tmp_path, payload, hashlib.md5(payload).hexdigest())
    data_dir = tmp_path / "data"
    assert fetch("galaxy-mnist", data_dir) == [data_dir / "train.bin"]
    assert (data_dir / "train.bin").read_bytes() == payload
    assert sorted(p.name for p in data_dir.iterdir()) == ["train.bin"]
    (tmp_path / "server" / "train.bin").unlink()  # an intact file is kept, not downloaded again
    assert fetch("galaxy_mnist", data_dir) == [data_dir / "train.bin"]


def test_fetch_checksum_mismatch_discards_the_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, tmp_path, b"tampered bytes", "0" * 32)
    data_dir = tmp_path / "data"
    with pytest.raises(BenchError) as error:
        fetch("galaxy_mnist", data_dir)
    assert_bench_error(error, "train.bin", "expected " + "0" * 32, str(data_dir / "train.bin"))
    assert list(data_dir.iterdir()) == []


def serve_galaxy_mnist_224(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, wrong_train_md5: bool = False) -> None:
    """Make ``galaxy_mnist_224`` download files written in the upstream layout (gzipped HDF5, 224 px) from
    file:// URLs, under its real file names and folder, each with its md5 (the train file's wrong if asked)."""
    server = tmp_path / "server"
    write_galaxy_mnist(server, compress=True, size=224)
    remotes = []
    for real in fetch_module.SOURCES[galaxy_mnist.HIGH_RES.name]:
        served = server / real.file_name
        md5 = hashlib.md5(served.read_bytes()).hexdigest()
        wrong = wrong_train_md5 and real.file_name.startswith(galaxy_mnist.TRAIN_FILE)
        remotes.append(replace(real, url=served.as_uri(), checksum="0" * 32 if wrong else md5))
    monkeypatch.setitem(fetch_module.SOURCES, galaxy_mnist.HIGH_RES.name, tuple(remotes))


def test_fetch_galaxy_mnist_224_puts_its_files_where_its_loader_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_galaxy_mnist_224(monkeypatch, tmp_path)
    data_dir = tmp_path / "data"
    folder_path = data_dir / "galaxy_mnist_224"
    assert fetch("galaxy_mnist_224", data_dir) == [
        folder_path / f"{galaxy_mnist.TRAIN_FILE}.gz", folder_path / f"{galaxy_mnist.TEST_FILE}.gz"]
    splits = registry.load_dataset("galaxy_mnist_224", DataOptions(data_dir=str(data_dir)))
    assert len(splits.test) == 40 and splits.test.read(np.array([0])).shape == (1, 224, 224, 3)
    with pytest.raises(BenchError) as error:  # the 64 px files, of the same names, are not these
        registry.load_dataset("galaxy_mnist", DataOptions(data_dir=str(data_dir)))
    assert_bench_error(error, "not found in", "bench data fetch galaxy_mnist`")


def test_fetch_galaxy_mnist_224_md5_mismatch_discards_the_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_galaxy_mnist_224(monkeypatch, tmp_path, wrong_train_md5=True)
    data_dir = tmp_path / "data"
    with pytest.raises(BenchError) as error:
        fetch("galaxy_mnist_224", data_dir)
    train = data_dir / "galaxy_mnist_224" / f"{galaxy_mnist.TRAIN_FILE}.gz"
    assert_bench_error(error, f"{galaxy_mnist.TRAIN_FILE}.gz", "has md5", "expected " + "0" * 32, str(train))
    assert list(train.parent.iterdir()) == []


def test_fetch_refuses_a_file_without_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, tmp_path, b"bytes", None)
    with pytest.raises(BenchError) as error:
        fetch("galaxy_mnist", tmp_path / "data")
    assert_bench_error(error, "no published checksum", str(tmp_path / "data" / "train.bin"))
    assert list((tmp_path / "data").iterdir()) == []


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")), "seems to be offline"),
        (TimeoutError("timed out"), "seems to be offline"),
        (urllib.error.HTTPError("https://x", 404, "Not Found", None, None), "HTTP 404"),  # type: ignore[arg-type]
    ],
)
def test_fetch_unreachable_url_says_where_to_put_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception, expected: str
) -> None:
    def unreachable(url: str, timeout: float) -> None:
        raise failure

    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", unreachable)
    data_dir = tmp_path / "data"
    with pytest.raises(BenchError) as error:
        fetch("galaxy10-decals", data_dir)
    remote = fetch_module.SOURCES[galaxy10.NAME][0]
    assert_bench_error(error, expected, remote.url, str(data_dir / galaxy10.FILE_NAME))
    assert list(data_dir.iterdir()) == []


def test_fetch_unknown_dataset_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(BenchError) as error:
        fetch("imagenet", tmp_path)
    assert_bench_error(error, "imagenet", "galaxy10_decals, galaxy_mnist")


def test_download_table_matches_the_loaders() -> None:
    names = {key: [remote.file_name for remote in remotes] for key, remotes in fetch_module.SOURCES.items()}
    assert names == {
        "galaxy10_decals": [galaxy10.FILE_NAME],
        "galaxy_mnist": [f"{galaxy_mnist.TRAIN_FILE}.gz", f"{galaxy_mnist.TEST_FILE}.gz"],
        "galaxy_mnist_224": [f"{galaxy_mnist.TRAIN_FILE}.gz", f"{galaxy_mnist.TEST_FILE}.gz"],
    }
    folders = {key: {remote.folder for remote in remotes} for key, remotes in fetch_module.SOURCES.items()}
    assert folders == {"galaxy10_decals": {""}, "galaxy_mnist": {""}, "galaxy_mnist_224": {"galaxy_mnist_224"}}
    assert all(galaxy_mnist.HIGH_RES.subfolder == remote.folder for remote in fetch_module.SOURCES["galaxy_mnist_224"])
    for remote in (remote for remotes in fetch_module.SOURCES.values() for remote in remotes):
        assert remote.url.startswith("https://") and remote.url.endswith(remote.file_name)
        assert remote.checksum is not None
        assert len(remote.checksum) == 2 * hashlib.new(remote.algorithm).digest_size
        int(remote.checksum, 16)


@pytest.mark.parametrize("module", [galaxy10, galaxy_mnist, folder])
def test_registered_datasets_load_with_their_module_and_fetch_when_they_can(module: Any) -> None:
    info = module.DATASET
    assert info.load is module.load and info.summary
    assert info.fetchable == (info.name in fetch_module.SOURCES)


def test_galaxy_mnist_registers_its_224_px_version_too() -> None:
    info = registry.dataset_info("galaxy_mnist_224")
    assert info is galaxy_mnist.DATASET_224 and info in galaxy_mnist.DATASET.versions
    assert info.load is galaxy_mnist.load_224 and info.fetchable and info.name in fetch_module.SOURCES
    assert info.class_names == galaxy_mnist.DATASET.class_names and not info.synthetic
    assert "galaxy_mnist_224" in registry.dataset_names()


def test_a_csv_label_naming_no_class_folder_beside_it_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_class_folders(tmp_path, per_class=4)
    rows = [f"spiral/{i:03d}.png,spiral" for i in range(4)] + [f"elliptical/{i:03d}.png,eliptical" for i in range(4)]
    (tmp_path / "labels.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    folder.load(DataOptions(path=str(tmp_path / "labels.csv")))
    assert "label(s) eliptical name none of the class folders beside it (elliptical, spiral)" in capsys.readouterr().err
    (tmp_path / "labels.csv").write_text("path,label\n" + "\n".join(r.replace("eliptical", "elliptical") for r in rows))
    folder.load(DataOptions(path=str(tmp_path / "labels.csv")))
    assert "warning" not in capsys.readouterr().err  # every label names a class folder


def test_galaxy_mnist_train_and_test_files_of_different_sizes_name_the_file_and_both_sizes(tmp_path: Path) -> None:
    labels = np.arange(8) % 4
    write_h5(tmp_path / galaxy_mnist.TRAIN_FILE, np.zeros((8, 64, 64, 3), np.uint8), labels)
    write_h5(tmp_path / galaxy_mnist.TEST_FILE, np.zeros((8, 224, 224, 3), np.uint8), labels)
    with pytest.raises(BenchError) as error:
        galaxy_mnist.load(DataOptions(path=str(tmp_path)))
    assert_bench_error(error, str(tmp_path / galaxy_mnist.TEST_FILE), "224 x 224", "64 x 64")
