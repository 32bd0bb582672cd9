import hashlib
import itertools

import numpy as np
import pytest

from bench.api import registry
from bench.api.data import DataOptions, SubsetSource
from bench.api.errors import BenchError
from bench.data.splits import nested_fraction, stratified_split


@pytest.fixture
def labels() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.choice(5, size=1000, p=[0.4, 0.3, 0.15, 0.1, 0.05])


def test_split_is_a_partition_with_class_proportions(labels: np.ndarray) -> None:
    train, val, test = stratified_split(labels, 0.1, 0.2, seed=3)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(labels)))
    for part, fraction in ((test, 0.2), (val, 0.1)):
        for c in range(5):
            expected = fraction * np.sum(labels == c)
            assert abs(np.sum(labels[part] == c) - expected) <= 1


def test_split_is_fixed_by_its_seed(labels: np.ndarray) -> None:
    first, second, other = (stratified_split(labels, 0.1, 0.1, seed=s) for s in (1, 1, 2))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[2], other[2])


def test_tiny_classes_keep_members_everywhere() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    train, val, test = stratified_split(labels, 0.1, 0.1, seed=0)
    for part in (train, val, test):
        assert set(labels[part]) == {0, 1, 2}


def test_fractions_are_nested_and_stratified(labels: np.ndarray) -> None:
    subsets = {f: set(nested_fraction(labels, f, seed=7).tolist()) for f in (0.01, 0.05, 0.1, 0.25, 0.5, 1.0)}
    ordered = sorted(subsets)
    for small, large in itertools.pairwise(ordered):
        assert subsets[small] <= subsets[large]
    assert subsets[1.0] == set(range(len(labels)))
    quarter = np.array(sorted(subsets[0.25]))
    for c in range(5):
        assert abs(np.sum(labels[quarter] == c) - 0.25 * np.sum(labels == c)) <= 1
    assert set(labels[np.array(sorted(subsets[0.01]))]) == set(range(5))  # every class kept


def test_fraction_subsets_depend_on_the_seed(labels: np.ndarray) -> None:
    assert not np.array_equal(nested_fraction(labels, 0.1, seed=0), nested_fraction(labels, 0.1, seed=1))


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_fraction_out_of_range(labels: np.ndarray, fraction: float) -> None:
    with pytest.raises(BenchError, match="outside"):
        nested_fraction(labels, fraction, seed=0)


# --- duplicate groups -------------------------------------------------------------------------------


def _digest(parts: tuple[np.ndarray, ...]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(np.asarray(part, dtype=np.int64).tobytes() + b"|")
    return digest.hexdigest()[:16]


# Digests of the train / val / test indices that stratified_split gave before it knew of duplicate groups
# (commit f2ccc2d), for the demo set's labels (1,200 images, 70/15/15) and split seeds 0, 1, 2.
SPLITS_BEFORE_GROUPS = {0: "7e83fdedcf4ad195", 1: "8e7d0453ec190351", 2: "e11729a8a116d5ab"}


@pytest.mark.parametrize("seed", sorted(SPLITS_BEFORE_GROUPS))
def test_split_without_duplicates_is_the_split_of_before(seed: int) -> None:
    labels = np.arange(1200) % 10
    assert _digest(stratified_split(labels, 0.15, 0.15, seed)) == SPLITS_BEFORE_GROUPS[seed]
    alone = stratified_split(labels, 0.15, 0.15, seed, groups=np.arange(1200))  # every image its own group
    assert _digest(alone) == SPLITS_BEFORE_GROUPS[seed]


def test_the_demo_set_has_no_duplicates_and_splits_as_before() -> None:
    splits = registry.load_dataset("demo:30", DataOptions())
    labels = np.arange(300) % 10
    for loaded, expected in zip((splits.train, splits.val, splits.test), stratified_split(labels, 0.15, 0.15, 0),
                                strict=True):
        assert isinstance(loaded.source, SubsetSource) and np.array_equal(loaded.source.indices, expected)
    assert "; no duplicates (pHash<=32/252 bits incl. rotations+flips, pixel cosine>=0.98)" in splits.protocol


def test_groups_never_straddle_parts(labels: np.ndarray) -> None:
    rng = np.random.default_rng(5)
    groups = np.arange(len(labels))  # groups[i]: the smallest index in image i's group
    shuffled = rng.permutation(len(labels))
    for start in range(0, 400, 4):  # 100 disjoint groups of 2 to 4 images, often of different classes
        members = shuffled[start : start + rng.integers(2, 5)]
        groups[members] = members.min()
    train, val, test = stratified_split(labels, 0.1, 0.2, seed=3, groups=groups)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(labels)))
    part, naive_part = _part_of((train, val, test)), _part_of(stratified_split(labels, 0.1, 0.2, seed=3))
    firsts = np.unique(groups)
    assert all(len(set(part[groups == first])) == 1 for first in firsts)  # each group whole in one part
    assert sum(len(set(naive_part[groups == first])) > 1 for first in firsts) > 30  # which it was not before
    assert np.array_equal(part, naive_part[groups])  # each image goes where its group's first member went


def _part_of(parts: tuple[np.ndarray, ...]) -> np.ndarray:
    part = np.empty(sum(len(p) for p in parts), dtype=int)
    for k, indices in enumerate(parts):
        part[indices] = k
    return part
