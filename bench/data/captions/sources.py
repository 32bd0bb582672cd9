"""Where a run's per-image captions come from, and attaching them to a dataset's splits.

A source is one of: the dataset's own captions, which its loader attaches (``DatasetInfo.captions``; the
synthetic sets': "rendered"); "classes", each image's class description (bench/data/captions/classes.py);
"blip", the cached BLIP captions of the dataset (``bench captions blip``, bench/data/captions/blip.py); or a
user CSV file of ``index,caption`` rows, index being the image's number in its whole dataset
(``GalaxyData.image_ids``). By default a run takes the source its method's recipe names
(``MethodCard.captions``: CosmoCLIP's BLIP captions, under the profiles of full-size models), else the
dataset's own captions where it has them, else "classes". Only cells that use captions take a source
(``uses_captions``): a method trained on each image's own caption, or a cross-modal retrieval task.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench.api import registry
from bench.api.data import DataOptions, DatasetSplits, GalaxyData
from bench.api.errors import BenchError
from bench.api.profiles import get_profile
from bench.data.captions import classes, rendered
from bench.data.fetch import DEFAULT_DATA_DIR

CLASSES = "classes"
BLIP = "blip"  # "blip" (the default captioning model) or "blip:MODEL_ID"
DEFAULT_BLIP_MODEL = "Salesforce/blip-image-captioning-base"
FILE = "file"
CAPTION_TASKS = frozenset({"text2image", "image2text"})
HEADER = ["index", "caption"]
# The datasets' own caption writers and the version of the text they write (part of each run's identity).
OWN_VERSIONS: dict[str, int] = {rendered.SOURCE: rendered.VERSION}
FLAG_FIX = "pass --captions classes, --captions blip[:MODEL_ID] or --captions FILE.csv (rows index,caption)"


@dataclass(frozen=True)
class CaptionSource:
    """A chosen source: its kind (an own source's name, "classes", "blip" or "file"), the file its text is
    read from (a user CSV, BLIP's cache), and BLIP's model id."""

    kind: str
    path: Path | None = None
    model: str | None = None

    @property
    def label(self) -> str:
        """The source in a run's identity (its file counts by its fingerprint, not where it lies): "rendered",
        "classes", "blip Salesforce/blip-image-captioning-base", "file"."""
        return f"{self.kind} {self.model}" if self.kind == BLIP else self.kind

    def describe(self) -> str:
        """For records and messages: the label, and a user file's path."""
        return f"{self.kind} {self.path}" if self.kind == FILE else self.label


def uses_captions(method: str, tasks: Sequence[str]) -> bool:
    """Whether a cell of ``method`` evaluating ``tasks`` reads per-image captions (read from the method's card:
    no torch import)."""
    return registry.method_card(method).trains_on_captions or bool(CAPTION_TASKS & set(tasks))


def cell_source(flag: str | None, method: str, profile: str, dataset: str, options: DataOptions) -> CaptionSource:
    """The source of a cell: ``--captions flag``, else the one the method's recipe trains on under a profile
    of full-size models (``MethodCard.captions``), else the dataset's default."""
    recipe = registry.method_card(method).captions if get_profile(profile).model_scale != "tiny" else None
    return resolve(flag or recipe, dataset, options)


def resolve(flag: str | None, dataset: str, options: DataOptions) -> CaptionSource:
    """The source ``--captions flag`` names for ``dataset`` (None: the dataset's own, else "classes")."""
    own = registry.dataset_info(dataset).captions
    if flag is None:
        return CaptionSource(own or CLASSES)
    if flag == CLASSES or (own is not None and flag == own):
        return CaptionSource(flag)
    if flag == BLIP or flag.startswith(f"{BLIP}:"):
        model = flag.partition(":")[2] or DEFAULT_BLIP_MODEL
        return CaptionSource(BLIP, blip_cache(dataset, model, options), model)
    if flag in OWN_VERSIONS:
        raise BenchError(f"dataset {dataset} has no {flag} captions", FLAG_FIX)
    path = Path(flag).expanduser()
    if not path.is_file():
        raise BenchError(f"--captions {flag}: no such source or file", FLAG_FIX)
    return CaptionSource(FILE, path)


def blip_cache(dataset: str, model: str, options: DataOptions) -> Path:
    """Where ``bench captions blip`` keeps the captions of ``dataset`` (``demo:N`` apart from ``demo``) by
    ``model``: in the data directory's captions/ folder."""
    root = Path(options.data_dir or os.environ.get("BENCH_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()
    return root / "captions" / f"{dataset.replace(':', '-')}.blip-{model.replace('/', '--')}.csv"


def text_version(source: CaptionSource) -> str:
    """What identifies the text of a source that is not a file: an own writer's version, or a hash of the
    shipped class-description tables (every table, as a class may be found in any)."""
    if source.kind == CLASSES:
        digest = hashlib.sha256(b"".join(path.read_bytes() for path in sorted(classes.HERE.glob("*.toml"))))
        return f"tables sha256 {digest.hexdigest()[:16]}"
    return f"version {OWN_VERSIONS[source.kind]}"


def attach(splits: DatasetSplits, source: CaptionSource, dataset: str, options: DataOptions) -> DatasetSplits:
    """``splits`` with every part (train, val, test) captioned from ``source``."""
    if source.kind in OWN_VERSIONS:
        if any(part.captions is None for part in (splits.train, splits.val, splits.test)):
            raise BenchError(f"dataset {dataset}'s loader attached no {source.kind} captions", FLAG_FIX)
        return splits
    if source.kind == CLASSES:
        descriptions = classes.class_text(splits.class_names, registry.dataset_info(dataset).text).descriptions
        return _each(splits, lambda part: tuple(descriptions[label] for label in part.labels.tolist()))
    assert source.path is not None
    ids = np.concatenate([part.image_ids for part in (splits.train, splits.val, splits.test)])
    table = read_csv(source.path, ids, image_count(dataset, options, ids), _fix(source, dataset))
    return _each(splits, lambda part: tuple(table[index] for index in part.image_ids.tolist()))


def _each(splits: DatasetSplits, captions_of: Callable[[GalaxyData], tuple[str, ...]]) -> DatasetSplits:
    return replace(splits, **{name: getattr(splits, name).with_captions(captions_of(getattr(splits, name)))
                              for name in ("train", "val", "test")})


def _fix(source: CaptionSource, dataset: str) -> str:
    if source.kind == BLIP:
        return f"write it with `bench captions blip --dataset {dataset} --model {source.model}`"
    return "write one row index,caption per image (index: its number in the whole dataset), UTF-8, header index,caption"


def image_count(dataset: str, options: DataOptions, ids: np.ndarray) -> int:
    """How many images the whole dataset numbers: its declared split sizes (before duplicates are dropped),
    else one more than the largest number its splits hold."""
    info = registry.dataset_info(dataset)
    declared = info.sizes(registry.dataset_options(dataset, options)) if info.sizes else None
    largest = int(ids.max()) + 1 if len(ids) else 0
    return max(largest, declared.train + declared.val + declared.test) if declared else largest


def read_csv(path: Path, ids: np.ndarray, count: int, fix: str) -> dict[int, str]:
    """``{index: caption}`` from the CSV file ``path``, which must caption every image numbered in ``ids``
    once, with non-empty text, and name no image beyond the ``count`` of the dataset."""
    if not path.is_file():
        raise BenchError(f"captions file {path} does not exist", fix)
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    except UnicodeDecodeError as error:
        raise BenchError(f"captions file {path} is not UTF-8 text (byte {error.start})", fix) from None
    except csv.Error as error:
        raise BenchError(f"captions file {path} is not valid CSV ({error})", fix) from None
    if not rows or [cell.strip().lower() for cell in rows[0]] != HEADER:
        raise BenchError(f"captions file {path} does not start with the header line index,caption", fix)
    table: dict[int, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        where = f"captions file {path} line {line}"
        if len(row) != 2:
            raise BenchError(f"{where} has {len(row)} fields, not 2 (quote captions that hold commas)", fix)
        index, text = row[0].strip(), row[1].strip()
        if not index.lstrip("-").isdigit():
            raise BenchError(f"{where}: index {index!r} is not a whole number", fix)
        number = int(index)
        if not 0 <= number < count:
            raise BenchError(f"{where}: index {number} is out of range (the dataset's images are 0..{count - 1})", fix)
        if number in table:
            raise BenchError(f"{where}: index {number} is captioned twice", fix)
        if not text:
            raise BenchError(f"{where}: the caption of image {number} is empty", fix)
        table[number] = text
    if missing := sorted(set(ids.tolist()) - set(table)):
        shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        raise BenchError(f"captions file {path} has no caption for {len(missing)} image(s): {shown}", fix)
    return table
