"""Fixed, stratified, seeded splits and nested training fractions; duplicate groups never straddle parts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.api.data import DatasetSplits, GalaxyData
from bench.api.errors import BenchError
from bench.data.duplicates.cache import split_duplicates
from bench.data.duplicates.find import Duplicates
from bench.data.duplicates.pool import pooled

TRAIN, VAL, TEST = 0, 1, 2
NO_TRAIN_DUPLICATES = "no_train_duplicates"  # the test subset of an official test file that duplicates no train image


def _per_class_permutations(labels: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]


def keep_groups_together(parts: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """``parts`` (one part id per image) with every image moved to the part of its group's first member.

    ``groups[i]`` is the smallest index in image i's duplicate group (i itself when it has none), so
    without duplicates nothing moves.
    """
    return parts if groups is None else parts[groups]


def stratified_split(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split indices into train / val / test with each class in the same proportions.

    Every class with at least three members has at least one member in each part. With ``groups`` (see
    :func:`keep_groups_together`) each duplicate group goes whole to the part its first member is drawn
    into, so no group straddles two parts; without duplicates the split is the same as without ``groups``.
    """
    parts = np.empty(len(labels), dtype=np.int64)
    for members in _per_class_permutations(labels, seed):
        n = len(members)
        n_test = max(1, round(n * test_fraction)) if n >= 3 else 0
        n_val = max(1, round(n * val_fraction)) if n >= 3 else 0
        parts[members[:n_test]] = TEST
        parts[members[n_test : n_test + n_val]] = VAL
        parts[members[n_test + n_val :]] = TRAIN
    parts = keep_groups_together(parts, groups)
    train, val, test = (np.flatnonzero(parts == part) for part in (TRAIN, VAL, TEST))
    return train, val, test


def nested_fraction(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of a stratified ``fraction`` of ``labels``.

    For one seed the subsets are nested: the 10 % subset lies inside the 25 % subset,
    because each class is permuted once and every fraction takes a prefix of it.
    Each class keeps at least one member.
    """
    if not 0.0 < fraction <= 1.0:
        raise BenchError(f"training fraction {fraction} is outside (0, 1]", "use a value such as 0.1 or 1.0")
    chosen = [members[: max(1, round(len(members) * fraction))] for members in _per_class_permutations(labels, seed)]
    return np.sort(np.concatenate(chosen))


def _duplicates_note(duplicates: Duplicates | None, handling: str) -> str:
    """'; 3 duplicate groups (7 images) <handling> (<criterion>)' for a split protocol; '' when not checked."""
    if duplicates is None:
        return ""
    action = f" {handling}" if duplicates.members() else ""
    return f"; {duplicates.describe()}{action} ({duplicates.criterion()})"


def split_dataset(
    data: GalaxyData, val_fraction: float, test_fraction: float, seed: int, files: Sequence[Path] = ()
) -> DatasetSplits:
    """``data`` split by :func:`stratified_split` with its duplicate groups each kept within one part, and
    the split and the duplicate handling described in the protocol.

    ``files`` are the files the images are read from: the duplicate groups are cached under them (see
    :func:`bench.data.duplicates.cache.split_duplicates`).
    """
    duplicates = split_duplicates(data, files)
    parts = stratified_split(
        data.labels, val_fraction, test_fraction, seed, duplicates.groups if duplicates is not None else None
    )
    train, val, test = (
        data.subset(part, f"{data.name}/{role}") for part, role in zip(parts, ("train", "val", "test"), strict=True)
    )
    protocol = (
        f"stratified {1 - val_fraction - test_fraction:.0%} train / {val_fraction:.0%} val / "
        f"{test_fraction:.0%} test, split seed {seed}"
    ) + _duplicates_note(duplicates, "kept within one part")
    return DatasetSplits(train, val, test, protocol)


def split_official_test(
    train_file: GalaxyData, test_file: GalaxyData, val_fraction: float, seed: int, files: Sequence[Path] = ()
) -> DatasetSplits:
    """A dataset's official test file, whole, as the test split; val is a stratified ``val_fraction`` of the
    train file, each duplicate group kept within train or val.

    The test images that duplicate no train-file image are the test subset ``no_train_duplicates`` (runs
    report their metrics on it too); without duplicate groups
    (:func:`bench.data.duplicates.cache.ignoring_duplicates`) there is none.
    ``files`` are the train and test files: the duplicate groups are cached under them. The test file's
    images are numbered (``GalaxyData.ids``) after the train file's.
    """
    duplicates = split_duplicates(pooled([train_file, test_file], train_file.name), files)
    count, name = len(train_file), train_file.name
    parts = np.full(count, TRAIN)
    parts[nested_fraction(train_file.labels, val_fraction, seed)] = VAL
    side = train_file.read(np.arange(1)).shape[1]
    protocol = (
        f"official train/test files ({count}/{len(test_file)}, {side} px); val: stratified {val_fraction:.0%} "
        f"of the train file, split seed {seed}"
    )
    subsets = {}
    if duplicates is not None:  # a group's first member is in the train file if any member is
        parts = keep_groups_together(parts, duplicates.groups[:count])
        kept = np.flatnonzero(duplicates.groups[count:] >= count)
        if len(kept) == 0:
            raise BenchError(
                f"every one of the {len(test_file)} test images of {name} duplicates a train-file image",
                "check that the train and test files are not the same data",
            )
        subsets[NO_TRAIN_DUPLICATES] = kept
        protocol += _duplicates_note(duplicates, "with their train-file members kept within train or val") + (
            f"; test: the whole official file, {len(test_file) - len(kept)} of its images duplicate train-file "
            f"images, metrics also recorded on the other {len(kept)} (test subset {NO_TRAIN_DUPLICATES})"
        )
    return DatasetSplits(
        train_file.subset(np.flatnonzero(parts == TRAIN), f"{name}/train"),
        train_file.subset(np.flatnonzero(parts == VAL), f"{name}/val"),
        replace(test_file.subset(np.arange(len(test_file)), f"{name}/test"), ids=count + np.arange(len(test_file))),
        protocol,
        subsets,
    )
