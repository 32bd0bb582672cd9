"""A user's own labelled cutouts: a folder with one subfolder per class, or a CSV of path,label."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from bench.api.data import DataOptions, DatasetInfo, DatasetSplits, GalaxyData
from bench.api.errors import BenchError
from bench.data.splits import split_dataset
from bench.io.progress import console

NAME = "folder"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
CSV_COLUMNS = ("path", "label")
VAL_FRACTION = 0.15
TEST_FRACTION = 0.15
# Every image is cropped to a square and resized to this side as it is read, whatever its own size: the
# largest input of the shipped profiles (the paper's 224 px; a method resizes further to its own input).
FOLDER_SIDE = 224
MIN_SPLIT_CLASS = 3  # images a class needs to have one in each of train, val and test

_LAYOUT_FIX = (
    "pass --data-path DIR with one subfolder of images per class, "
    "or --data-path FILE.csv with columns path,label"
)


def _open_rgb(path: Path) -> Image.Image:
    """The image at ``path`` decoded as RGB; a file PIL cannot read becomes a BenchError naming it.

    16-bit greyscale images (PIL modes I;16* and I) are scaled from their 0-65535 range to 0-255, not
    clipped at 255 as PIL's own conversion does.
    """
    try:
        with Image.open(path) as image:
            if image.mode.startswith("I;16") or image.mode == "I":
                wide = np.asarray(image, dtype=np.float64)
                return Image.fromarray(np.round(np.clip(wide, 0, 65535) / 257.0).astype(np.uint8)).convert("RGB")
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise BenchError(f"cannot read image {path}: {error}", "replace or remove that file") from error


class FolderImageSource:
    """Image files read on demand as RGB, centre-cropped to a square and resized to ``size`` pixels."""

    def __init__(self, paths: Sequence[Path], size: int = FOLDER_SIDE) -> None:
        self.paths = tuple(Path(path) for path in paths)
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def _load(self, path: Path) -> np.ndarray:
        image = _open_rgb(path)
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        if width != height:
            image = image.crop((left, top, left + side, top + side))
        if side != self.size:
            image = image.resize((self.size, self.size), Image.Resampling.BICUBIC)
        return np.asarray(image, dtype=np.uint8)

    def read(self, indices: np.ndarray) -> np.ndarray:
        """uint8 images (n, size, size, 3) for ``indices``."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        images = np.empty((len(indices), self.size, self.size, 3), dtype=np.uint8)
        for row, index in enumerate(indices):
            images[row] = self._load(self.paths[index])
        return images


def _scan_folder(root: Path) -> tuple[list[Path], list[str]]:
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise BenchError(f"{root} has no class subfolders", _LAYOUT_FIX)
    paths: list[Path] = []
    names: list[str] = []
    for class_dir in class_dirs:
        images = sorted(
            p
            for p in class_dir.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
        if not images:
            raise BenchError(
                f"class folder {class_dir} has no images",
                f"add {', '.join(sorted(IMAGE_SUFFIXES))} files to it or remove it",
            )
        paths += images
        names += [class_dir.name] * len(images)
    return paths, names


def _read_csv(csv_path: Path, allow_outside: bool = False) -> tuple[list[Path], list[str]]:
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.DictReader(file)
            rows = list(reader)
            columns = [name.strip() for name in reader.fieldnames or []]
    except (UnicodeDecodeError, csv.Error) as error:
        raise BenchError(f"cannot read {csv_path} as CSV: {error}", _LAYOUT_FIX) from error
    missing = [column for column in CSV_COLUMNS if column not in columns]
    if missing:
        raise BenchError(
            f"{csv_path} lacks column {', '.join(missing)} (found: {', '.join(columns) or 'none'})",
            "give the CSV a header row path,label",
        )
    if not rows:
        raise BenchError(f"{csv_path} lists no images", "add one row path,label per image")
    paths: list[Path] = []
    names: list[str] = []
    for line, row in enumerate(rows, start=2):
        fields = {key.strip(): (value or "").strip() for key, value in row.items() if isinstance(key, str)}
        if not fields["path"] or not fields["label"]:
            raise BenchError(f"{csv_path} line {line} lacks a path or a label", "fill in both columns")
        path = csv_path.parent / fields["path"]
        if not allow_outside and not path.resolve().is_relative_to(csv_path.parent.resolve()):
            raise BenchError(
                f"{csv_path} line {line} names {fields['path']}, outside the CSV's folder {csv_path.parent}",
                "move the images under the CSV's folder, or pass --allow-outside-paths",
            )
        if not path.is_file():
            raise BenchError(
                f"{csv_path} line {line} names {path}, which does not exist",
                "fix the path (relative to the CSV's folder) or remove the row",
            )
        paths.append(path)
        names.append(fields["label"])
    _warn_labels_beside_class_folders(csv_path, names)
    return paths, names


def _warn_labels_beside_class_folders(csv_path: Path, names: list[str]) -> None:
    """Where the CSV's labels name the subfolders beside it (class folders), a label that names none of them
    is likely a typo: say which."""
    folders = {d.name for d in csv_path.parent.iterdir() if d.is_dir() and not d.name.startswith(".")}
    if folders & set(names) and (strays := sorted(set(names) - folders)):
        console.print(f"[yellow]warning:[/] {csv_path}: label(s) {', '.join(strays)} name none of the class "
                      f"folders beside it ({', '.join(sorted(folders))})", soft_wrap=True)


def load(options: DataOptions) -> DatasetSplits:
    """The user's images at ``options.path`` with a stratified 70/15/15 split from ``options.split_seed``.

    Class names are the sorted subfolder names, or the sorted unique labels of the CSV.
    """
    if not options.path:
        raise BenchError("no folder or CSV of your own images given", _LAYOUT_FIX)
    root = Path(options.path).expanduser()
    if root.is_dir():
        paths, names = _scan_folder(root)
    elif root.is_file():
        paths, names = _read_csv(root, options.allow_outside_paths)
    else:
        raise BenchError(f"{root} does not exist", _LAYOUT_FIX)
    class_names = tuple(sorted(set(names)))
    if len(class_names) < 2:
        raise BenchError(f"{root} holds only one class ({class_names[0]})", "give at least two classes")
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index[name] for name in names], dtype=np.int64)
    counts = np.bincount(labels, minlength=len(class_names))
    thin = [f"{name} ({count})" for name, count in zip(class_names, counts, strict=True) if count < MIN_SPLIT_CLASS]
    if thin:
        console.print(f"[yellow]warning:[/] {root}: class(es) {', '.join(thin)} have fewer than {MIN_SPLIT_CLASS} "
                      "images, so they cannot be in every split (all of theirs go to training)", soft_wrap=True)
    data = GalaxyData(FolderImageSource(paths), labels, class_names, NAME)
    listing = (root,) if root.is_file() else ()  # the CSV, whose rows name the images
    return split_dataset(data, VAL_FRACTION, TEST_FRACTION, options.split_seed, files=(*listing, *paths))


DATASET = DatasetInfo(
    NAME, "your own labelled cutouts: a folder of class subfolders, or a CSV of path,label", load
)
