"""The leakage audit: fingerprints against independent references, planted duplicates found exactly,
splits that keep duplicate groups together, the cache of groups, and `bench audit`."""

from __future__ import annotations

import math
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.fft
import torch
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from bench.api import registry
from bench.api.data import ArraySource, DataOptions, GalaxyData, SubsetSource
from bench.api.errors import BenchError
from bench.api.method import BuildContext
from bench.api.profiles import PROFILES
from bench.audit.audit import MethodEmbedding, run_audit
from bench.data import galaxy10
from bench.data.demo import CLASS_NAMES, make_demo_images
from bench.data.duplicates import cache as load_time
from bench.data.duplicates.cache import ignoring_duplicates, split_duplicates
from bench.data.duplicates.find import DuplicateSettings, connected_groups, find_duplicates
from bench.data.duplicates.fingerprint import HASH_BITS, LUMA, THUMBNAIL_SIDE, ZERO, orient, oriented_hashes, thumbnails
from bench.data.duplicates.pairs import hamming_pairs
from bench.data.splits import NO_TRAIN_DUPLICATES, split_dataset, split_official_test

# Planted in the demo images: (copy, original, how). Expected groups: {5, 17, 30}, {44, 60}, {71, 82},
# {93, 101}, {7, 110}.
PLANTED = (
    (5, 17, "exact"),
    (30, 17, "exact"),
    (44, 60, "rot90"),
    (71, 82, "mirror"),
    (93, 101, "noise"),
    (110, 7, "rot180+noise"),
)
EXPECTED_GROUPS = [[5, 17, 30], [7, 110], [44, 60], [71, 82], [93, 101]]


@pytest.fixture(scope="module")
def galaxies() -> np.ndarray:
    return make_demo_images(12)[0]  # 120 distinct synthetic galaxies, 64 px


def plant(images: np.ndarray) -> np.ndarray:
    """``images`` with the ``PLANTED`` copies written over some of them."""
    rng = np.random.default_rng(0)
    planted = images.copy()
    for copy, original, how in PLANTED:
        image = images[original]
        if "rot90" in how:
            image = np.rot90(image, 1, axes=(0, 1))
        if "rot180" in how:
            image = np.rot90(image, 2, axes=(0, 1))
        if "mirror" in how:
            image = image[:, ::-1]
        if "noise" in how:
            image = np.clip(image + rng.normal(0.0, 3.0, image.shape), 0, 255).astype(np.uint8)
        planted[copy] = image
    return planted


def as_data(images: np.ndarray, name: str = "planted") -> GalaxyData:
    return GalaxyData(ArraySource(images), np.arange(len(images)) % 10, CLASS_NAMES, name)


def indices(part: GalaxyData) -> np.ndarray:
    """Which images of the split set a part holds."""
    assert isinstance(part.source, SubsetSource)
    return part.source.indices


# --- fingerprints -----------------------------------------------------------------------------------


def test_thumbnails_are_area_averages_of_the_luma(galaxies: np.ndarray) -> None:
    for side in (64, 48):  # 48 -> 32 splits pixels: the reference repeats each pixel, then takes block means
        images = galaxies[:6, :side, :side]
        luma = images.astype(np.float64) @ LUMA.astype(np.float64)
        common = math.lcm(side, 32)
        fine = luma.repeat(common // side, axis=1).repeat(common // side, axis=2)
        blocks = fine.reshape(6, 32, common // 32, 32, common // 32).mean(axis=(2, 4))
        assert np.allclose(thumbnails(images), blocks, atol=1e-3)


def _reference_hash(thumb: np.ndarray) -> np.ndarray:
    """The hash written out plainly: ring means removed, scipy's orthonormal DCT, signs at 1 <= u + v <= 21."""
    centre = (THUMBNAIL_SIDE - 1) / 2
    radius = np.round(np.hypot(*np.mgrid[0:THUMBNAIL_SIDE, 0:THUMBNAIL_SIDE] - centre))
    residual = thumb.astype(np.float64).copy()
    for r in np.unique(radius):
        residual[radius == r] -= thumb[radius == r].mean()
    coefficients = scipy.fft.dctn(residual, norm="ortho")
    frequencies = sorted((u + v, u, v) for u in range(32) for v in range(32) if 1 <= u + v <= 21)
    bits = np.array([coefficients[u, v] > ZERO for _, u, v in frequencies])
    assert len(bits) == HASH_BITS == 252
    return np.packbits(np.concatenate([bits, np.zeros(4, bool)]), bitorder="little").view("<u8")


def test_hash_matches_a_plain_reference(galaxies: np.ndarray) -> None:
    thumbs = thumbnails(galaxies[:20])
    hashes = oriented_hashes(thumbs)
    assert hashes.shape == (20, 8, 4) and hashes.dtype == np.uint64
    for thumb, found in zip(thumbs, hashes, strict=True):
        assert np.array_equal(found[0], _reference_hash(thumb))


def test_each_orientation_hashes_as_the_oriented_image(galaxies: np.ndarray) -> None:
    hashes = oriented_hashes(thumbnails(galaxies))
    for o in range(8):
        turned = np.ascontiguousarray(orient(galaxies, o, axes=(1, 2)))
        assert np.array_equal(oriented_hashes(thumbnails(turned))[:, 0], hashes[:, o]), o
    assert len({tuple(h) for h in hashes[:, :, 0].tolist()}) == len(galaxies)  # all distinct


def test_hamming_pairs_match_brute_force() -> None:
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 2**63, size=(150, 8, 4), dtype=np.int64).view(np.uint64)
    for i, j in ((3, 9), (20, 140), (63, 64), (70, 12), (100, 149)):  # across blocks of 64 rows, both ways
        flips = rng.choice(256, size=rng.integers(0, 12), replace=False)
        hashes[j, rng.integers(8)] = hashes[i, 0] ^ np.packbits(np.isin(np.arange(256), flips), bitorder="little").view(
            "<u8"
        )
    found = hamming_pairs(hashes, 20)
    expected = []
    for i in range(150):
        for j in range(i + 1, 150):
            distances = [
                sum(bin(int(a) ^ int(b)).count("1") for a, b in zip(hashes[i, 0], hashes[j, o], strict=True))
                for o in range(8)
            ]
            if min(distances) <= 20:
                expected.append([i, j, min(distances), int(np.argmin(distances))])
    assert found.tolist() == expected and len(expected) >= 4


def test_connected_groups_match_scipy() -> None:
    rng = np.random.default_rng(2)
    pairs = rng.integers(0, 300, size=(150, 2))
    groups = connected_groups(300, pairs)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(300, 300))
    _, component = connected_components(graph, directed=False)
    for c in np.unique(component):
        members = np.flatnonzero(component == c)
        assert (groups[members] == members.min()).all()


# --- duplicates -------------------------------------------------------------------------------------


def test_planted_duplicates_are_found_exactly(galaxies: np.ndarray) -> None:
    assert find_duplicates(as_data(galaxies, "clean")).members() == []
    found = find_duplicates(as_data(plant(galaxies)))
    assert [group.tolist() for group in found.members()] == EXPECTED_GROUPS
    assert found.exact_pairs == 3  # 5, 17 and 30 are identical
    near = {(int(i), int(j)): int(o) for i, j, _, o in found.near_pairs}
    assert set(near) == {(7, 110), (44, 60), (71, 82), (93, 101)}
    assert np.array_equal(orient(galaxies[60], near[(44, 60)], axes=(0, 1)), plant(galaxies)[44])  # rotation found
    assert (found.similarity >= 0.98).all() and found.candidates == 4
    assert found.describe() == "5 duplicate groups (11 images)"


def test_the_embedding_rejects_what_only_the_hash_joins() -> None:
    flat = np.stack([np.full((64, 64, 3), grey, dtype=np.uint8) for grey in (40, 200)])  # same (empty) hash
    found = find_duplicates(as_data(flat))
    assert found.candidates == 1 and found.members() == []
    lenient = find_duplicates(as_data(flat), DuplicateSettings(similarity=-1.0))
    assert [group.tolist() for group in lenient.members()] == [[0, 1]]


def test_bad_settings_are_one_line_errors() -> None:
    with pytest.raises(BenchError, match="hash threshold 200 is outside"):
        DuplicateSettings(threshold=200)
    with pytest.raises(BenchError, match="is not a cosine"):
        DuplicateSettings(similarity=1.5)


def test_a_method_embedding_confirms_pairs(galaxies: np.ndarray, plugin_methods: None) -> None:
    method = registry.create_method("tiny-convnet")
    method.build(BuildContext(CLASS_NAMES, PROFILES["demo"], "random", torch.device("cpu")))
    embed = MethodEmbedding(method, CLASS_NAMES)
    vectors = embed(galaxies[[0, 0, 1]])
    assert vectors.shape == (3, 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    found = find_duplicates(as_data(plant(galaxies)), DuplicateSettings(similarity=0.9), embed)
    assert found.embedding == "tiny-convnet" and [5, 17, 30] in [g.tolist() for g in found.members()]


# --- splits -----------------------------------------------------------------------------------------


def test_splits_keep_planted_groups_together(galaxies: np.ndarray) -> None:
    data = as_data(plant(galaxies))
    straddled_before = 0
    for seed in range(6):
        splits = split_dataset(data, 0.15, 0.15, seed)
        with ignoring_duplicates():
            naive = split_dataset(data, 0.15, 0.15, seed)
        for group in EXPECTED_GROUPS:
            assert sum(np.isin(group, indices(part)).any() for part in (splits.train, splits.val, splits.test)) == 1
            straddled_before += (
                sum(np.isin(group, indices(part)).any() for part in (naive.train, naive.val, naive.test)) > 1
            )
        assert "5 duplicate groups (11 images) kept within one part (pHash<=32/252" in splits.protocol
        assert naive.protocol == f"stratified 70% train / 15% val / 15% test, split seed {seed}"
    assert straddled_before >= 3  # without groups, the same seeds split some groups


def test_official_test_split_keeps_the_test_file_whole_and_names_the_images_duplicating_no_training_image(
    galaxies: np.ndarray,
) -> None:
    train_file = as_data(galaxies[:80], "official")
    test_images = galaxies[80:].copy()
    test_images[0] = np.rot90(galaxies[3], 1, axes=(0, 1))  # duplicates a training image, rotated
    test_images[1] = galaxies[50]  # and an exact copy of one
    test_images[5] = np.clip(galaxies[7] + 2.0, 0, 255).astype(np.uint8)  # and a brightened copy of one
    test_images[2] = test_images[3]  # a duplicate within the test file stays
    splits = split_official_test(train_file, as_data(test_images, "official"), 0.1, seed=0)
    assert np.array_equal(indices(splits.test), np.arange(40))  # the official test file, whole
    assert np.array_equal(splits.test.labels, np.arange(40) % 10)
    assert list(splits.test_subsets) == [NO_TRAIN_DUPLICATES]
    assert np.array_equal(splits.test_subsets[NO_TRAIN_DUPLICATES], np.setdiff1d(np.arange(40), [0, 1, 5]))
    assert splits.protocol.startswith("official train/test files (80/40, 64 px); val: stratified 10% of the")
    assert (
        "; 4 duplicate groups (8 images) with their train-file members kept within train or val (pHash<=32/252"
        in splits.protocol
    )
    assert splits.protocol.endswith(
        "; test: the whole official file, 3 of its images duplicate train-file images, metrics also recorded on "
        "the other 37 (test subset no_train_duplicates)"
    )
    train_parts = [set(indices(part)) for part in (splits.train, splits.val)]
    for image in (3, 50, 7):  # the training originals: in train or val, as any training image
        assert sum(image in part for part in train_parts) == 1
    assert len(splits.train) + len(splits.val) == 80 and len(splits.val) == 10  # one of each class
    with pytest.raises(BenchError, match="every one of the 80 test images"):
        split_official_test(train_file, as_data(galaxies[:80], "official"), 0.1, seed=0)
    with ignoring_duplicates():  # no groups: no subset
        naive = split_official_test(train_file, as_data(test_images, "official"), 0.1, seed=0)
    assert dict(naive.test_subsets) == {} and len(naive.test) == 40 and "duplicate" not in naive.protocol


# --- groups cached beside the data --------------------------------------------------------------------


def test_groups_are_cached_under_the_data_file(
    galaxies: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / galaxy10.FILE_NAME
    with h5py.File(path, "w") as file:
        file["images"], file["ans"] = plant(galaxies), np.arange(len(galaxies)) % 10
    first = galaxy10.load(DataOptions(path=str(path)))
    assert "5 duplicate groups (11 images)" in first.protocol
    assert len(list((tmp_path / "cache" / "duplicates").glob("*.npz"))) == 1

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("recomputed")

    monkeypatch.setattr(load_time, "find_duplicates", refuse)
    assert galaxy10.load(DataOptions(path=str(path))).protocol == first.protocol  # read from the cache
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="recomputed"):  # a changed file is hashed again
        galaxy10.load(DataOptions(path=str(path)))
    with ignoring_duplicates():
        assert split_duplicates(as_data(galaxies), [path]) is None


# --- bench audit ------------------------------------------------------------------------------------


def write_folder(root: Path, images: np.ndarray) -> Path:
    for index, image in enumerate(images):
        folder = root / CLASS_NAMES[index % 10].replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:03d}.png")
    return root


def test_bench_audit_reports_planted_duplicates(
    galaxies: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_bench
) -> None:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    root = write_folder(tmp_path / "cutouts", plant(galaxies))
    result = run_bench(["audit", "--dataset", "folder", "--data-path", str(root), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.stderr
    audit = run_audit("folder", DataOptions(path=str(root)))
    counts = audit.counts()
    assert counts["duplicate groups"] == 5 and counts["images in groups"] == 11 and counts["exact duplicate pairs"] == 3
    assert counts["groups straddling train/test, loaders' split"] == 0
    assert counts["groups in more than one part, loaders' split"] == 0
    assert counts["groups with more than one class"] == 5  # copies were written into other classes' slots
    for name, value in counts.items():
        assert f"| {name} | {value:,} |" in (tmp_path / "r" / "audit_folder.md").read_text()
        assert name in result.stdout
    report = (tmp_path / "r" / "audit_folder.md").read_text()
    assert "Unbarred_Loose_Spiral/017.png" in report and "![duplicate groups](audit_folder.png)" in report
    with Image.open(tmp_path / "r" / "audit_folder.png") as sheet:
        assert sheet.width >= 640 and sheet.height > 5 * 128


def test_bench_audit_of_the_demo_set(tmp_path: Path, run_bench) -> None:
    result = run_bench(["audit", "--dataset", "demo:5", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert "No duplicate groups." in (tmp_path / "audit_demo_5.md").read_text()
    assert (tmp_path / "audit_demo_5.png").is_file() and "groups straddling train/test" in result.stdout


def test_bench_audit_with_a_method_needs_its_pretrained_weights(tmp_path: Path, run_bench) -> None:
    result = run_bench(["audit", "--dataset", "demo:3", "--method", "resnet18", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "resnet18: no pretrained weights" in result.stderr
    assert "\n" not in result.stderr.strip()
    result = run_bench(["audit", "--dataset", "demo:3", "--threshold", "200"])
    assert result.exit_code == 2 and "--threshold between 0 and 125" in result.stderr
