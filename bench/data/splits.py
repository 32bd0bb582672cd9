"""Fixed, stratified, seeded splits and nested training fractions."""

from __future__ import annotations

import numpy as np

from bench.data.base import DatasetSplits, GalaxyData
from bench.errors import BenchError


def _per_class_permutations(labels: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]


def stratified_split(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split indices into train / val / test with each class in the same proportions.

    Every class with at least three members has at least one member in each part.
    """
    parts: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
    for members in _per_class_permutations(labels, seed):
        n = len(members)
        n_test = max(1, round(n * test_fraction)) if n >= 3 else 0
        n_val = max(1, round(n * val_fraction)) if n >= 3 else 0
        parts[2].append(members[:n_test])
        parts[1].append(members[n_test : n_test + n_val])
        parts[0].append(members[n_test + n_val :])
    train, val, test = (np.sort(np.concatenate(p)) for p in parts)
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


def split_dataset(data: GalaxyData, val_fraction: float, test_fraction: float, seed: int) -> DatasetSplits:
    """``data`` split by :func:`stratified_split`, with the split described in the protocol."""
    parts = stratified_split(data.labels, val_fraction, test_fraction, seed)
    train, val, test = (
        data.subset(part, f"{data.name}/{role}") for part, role in zip(parts, ("train", "val", "test"), strict=True)
    )
    protocol = (
        f"stratified {1 - val_fraction - test_fraction:.0%} train / {val_fraction:.0%} val / "
        f"{test_fraction:.0%} test, split seed {seed}"
    )
    return DatasetSplits(train, val, test, protocol)
