"""HDF5 files of labelled images: finding, unpacking, validating and lazily reading them.

Also the stratified train / val / test split that the file-based loaders share.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from bench.api.data import DataOptions
from bench.api.errors import BenchError

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "galaxy-bench"
_CORRUPT_FIX = "check that the file is complete and readable, or download it again"


def _missing_fix(fetch_hint: str) -> str:
    return f"pass --data-path, set BENCH_DATA_DIR, or run `{fetch_hint}`"


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


class H5ImageSource:
    """Images in one HDF5 dataset, read on demand; safe to pickle and to use after fork.

    The constructor only peeks at the shape; the file stays open from the first ``read`` on (and is
    reopened in each new process), and only the requested images are read.
    """

    def __init__(self, path: Path, key: str) -> None:
        self.path = Path(path)
        self.key = key
        self._file: h5py.File | None = None
        self._pid: int | None = None
        with self._open() as file:
            self.shape: tuple[int, ...] = file[key].shape
            self.dtype = file[key].dtype

    def _open(self) -> h5py.File:
        try:
            return h5py.File(self.path, "r")
        except OSError as error:
            raise BenchError(f"cannot open {self.path}: {_one_line(error)}", _CORRUPT_FIX) from error

    def _dataset(self) -> h5py.Dataset:
        if self._file is None or self._pid != os.getpid():
            self._file = self._open()
            self._pid = os.getpid()
        return self._file[self.key]

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, indices: np.ndarray) -> np.ndarray:
        """uint8 images (n, H, W, 3) in the order of ``indices`` (any order, repeats allowed)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size == 0:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        if indices.min() < 0 or indices.max() >= len(self):
            raise IndexError(f"image index out of range [0, {len(self)}) for {self.path}")
        unique, inverse = np.unique(indices, return_inverse=True)
        dataset = self._dataset()
        try:
            if unique[-1] - unique[0] + 1 == len(unique):  # a contiguous run: one slice is fastest
                block = dataset[int(unique[0]) : int(unique[-1]) + 1]
            else:  # h5py wants increasing, unique indices
                block = dataset[unique]
        except OSError as error:
            raise BenchError(
                f"cannot read images from {self.path}: {_one_line(error)}", _CORRUPT_FIX
            ) from error
        return block[inverse]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_file": None, "_pid": None}


def data_location(options: DataOptions, dataset_name: str, fetch_hint: str) -> Path:
    """The file or folder named by ``options.path``, else ``options.data_dir``, else $BENCH_DATA_DIR."""
    location = options.path or options.data_dir or os.environ.get("BENCH_DATA_DIR")
    if not location:
        raise BenchError(f"no location given for the {dataset_name} data", _missing_fix(fetch_hint))
    return Path(location).expanduser()


def find_file(location: Path, names: Sequence[str], dataset_name: str, fetch_hint: str) -> Path:
    """``location`` itself if it is a file, else the first of ``names`` inside that folder."""
    if location.is_file():
        return location
    if not location.is_dir():
        raise BenchError(f"{dataset_name} data path {location} does not exist", _missing_fix(fetch_hint))
    for name in names:
        if (location / name).is_file():
            return location / name
    raise BenchError(
        f"{dataset_name} file {' or '.join(names)} not found in {location}", _missing_fix(fetch_hint)
    )


def cache_dir() -> Path:
    """Where derived files go if the data folder is read-only: $BENCH_CACHE_DIR or ~/.cache/galaxy-bench."""
    return Path(os.environ.get("BENCH_CACHE_DIR") or DEFAULT_CACHE_DIR).expanduser()


def _cache_copy(gz_path: Path) -> Path:
    key = hashlib.sha1(str(gz_path.resolve()).encode()).hexdigest()[:12]
    return cache_dir() / "decompressed" / key / gz_path.name.removesuffix(".gz")


def _is_fresh(plain: Path, gz_path: Path) -> bool:
    return plain.is_file() and plain.stat().st_mtime >= gz_path.stat().st_mtime


def ungzipped(path: Path, fetch_hint: str) -> Path:
    """A decompressed copy of ``path`` (or ``path`` itself if not ``.gz``), made once.

    The copy goes next to the ``.gz`` file, or into :func:`cache_dir` if that folder is not writable.
    """
    if path.suffix != ".gz":
        return path
    targets = [path.with_suffix(""), _cache_copy(path)]
    for target in targets:
        if _is_fresh(target, path):
            return target
    for target in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        except OSError:
            continue
        temp = Path(temp_name)
        try:
            with os.fdopen(handle, "wb") as out, gzip.open(path, "rb") as source:
                shutil.copyfileobj(source, out, length=1 << 20)
            os.replace(temp, target)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise BenchError(
                f"{path} is not a valid gzip file ({_one_line(error)})", f"re-download it with `{fetch_hint}`"
            ) from error
        except OSError as error:
            raise BenchError(
                f"cannot decompress {path} into {target}: {_one_line(error)}",
                "free some disk space or set BENCH_CACHE_DIR to a writable folder",
            ) from error
        finally:
            temp.unlink(missing_ok=True)
        return target
    raise BenchError(
        f"cannot decompress {path}: neither {targets[0].parent} nor {targets[1].parent} is writable",
        "set BENCH_CACHE_DIR to a writable folder",
    )


def _check_keys(
    file: h5py.File, path: Path, keys: tuple[str, str], dataset_name: str, fetch_hint: str
) -> None:
    found = sorted(name for name, item in file.items() if isinstance(item, h5py.Dataset))
    missing = [key for key in keys if key not in found]
    if missing:
        raise BenchError(
            f"{path} has no dataset {', '.join(missing)} (found: {', '.join(found) or 'none'}; "
            f"expected: {', '.join(keys)})",
            f"check this is the {dataset_name} file, or re-download it with `{fetch_hint}`",
        )


def _check_images(images: h5py.Dataset, path: Path, key: str) -> None:
    shape, dtype = images.shape, images.dtype
    if len(shape) != 4 or shape[-1] != 3 or dtype != np.uint8:
        raise BenchError(
            f"{path}: '{key}' holds {dtype} images of shape {shape}, expected uint8 (N, H, W, 3)",
            "convert the images to uint8 RGB with channels last",
        )
    if shape[0] == 0:
        raise BenchError(f"{path}: '{key}' holds no images", "pass a file that contains images")


def _check_labels(raw: np.ndarray, path: Path, key: str, num_images: int, num_classes: int) -> np.ndarray:
    fix = f"labels must be integers 0 to {num_classes - 1}, one per image: check this is the right file"
    if raw.ndim != 1 or len(raw) != num_images:
        raise BenchError(f"{path} has {num_images} images but '{key}' has shape {raw.shape}", fix)
    if raw.dtype.kind not in "iuf":
        raise BenchError(f"{path}: '{key}' has dtype {raw.dtype}, not integer labels", fix)
    if raw.dtype.kind == "f":
        not_whole = np.flatnonzero(~np.isfinite(raw) | (raw != np.round(raw)))
        if len(not_whole):
            i = not_whole[0]
            raise BenchError(f"{path}: label {raw[i]} at index {i} in '{key}' is not an integer", fix)
    outside = np.flatnonzero((raw < 0) | (raw >= num_classes))
    if len(outside):
        i = outside[0]
        raise BenchError(f"{path}: label {raw[i]} at index {i} in '{key}' is outside [0, {num_classes})", fix)
    return raw.astype(np.int64)


def open_labelled_h5(
    path: Path, image_key: str, label_key: str, num_classes: int, dataset_name: str, fetch_hint: str
) -> tuple[H5ImageSource, np.ndarray]:
    """Check an HDF5 file of images and labels; return a lazy image source and int64 labels.

    Every problem becomes a one-line :class:`BenchError` naming the file. ``fetch_hint`` is the
    command that downloads the file, e.g. ``bench data fetch galaxy10_decals``.
    """
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"{dataset_name} file {path} does not exist", _missing_fix(fetch_hint))
    try:
        with h5py.File(path, "r") as file:
            _check_keys(file, path, (image_key, label_key), dataset_name, fetch_hint)
            images = file[image_key]
            _check_images(images, path, image_key)
            labels = _check_labels(
                np.asarray(file[label_key][()]), path, label_key, images.shape[0], num_classes
            )
    except OSError as error:
        raise BenchError(
            f"{path} is not a readable HDF5 file, it may be corrupt or truncated ({_one_line(error)})",
            f"re-download it with `{fetch_hint}`",
        ) from error
    return H5ImageSource(path, image_key), labels
