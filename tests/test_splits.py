import itertools

import numpy as np
import pytest

from bench.data.splits import nested_fraction, stratified_split
from bench.errors import BenchError


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
