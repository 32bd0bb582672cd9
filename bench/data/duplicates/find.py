"""Exact and near-duplicate images of a set, joined into groups.

Exact duplicates are identical pixel arrays (equal byte digests). Near duplicates are pairs whose
perceptual hashes (``fingerprint``) differ in at most ``threshold`` bits in some orientation, confirmed by
an embedding: the cosine similarity of the first image and the second turned into the matching
orientation must reach ``similarity``. Pairs are joined into groups by connected components (union-find).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bench.api.data import GalaxyData
from bench.api.errors import BenchError
from bench.data.duplicates.fingerprint import CHUNK, HASH_BITS, Fingerprints, fingerprint, orient, thumbnails
from bench.data.duplicates.pairs import hamming_pairs

# Defaults measured on the demo set (4,000 images, 8 M pairs): the closest two distinct galaxies are 39 of
# 252 bits apart; copies with Gaussian noise of 4 grey levels stay within 31 bits (of 6: 99 % within 32),
# rotated or mirrored copies at 0. Distinct galaxies reach a pixel cosine of 0.989 (round ellipticals look
# alike), so the cosine only confirms what the hash found; those noisy copies keep a cosine above 0.99.
DEFAULT_THRESHOLD = 32
DEFAULT_SIMILARITY = 0.98


class Embedder(Protocol):
    """Maps uint8 images (n, H, W, 3) to L2-normalised float32 embeddings (n, D)."""

    name: str

    def __call__(self, images: np.ndarray) -> np.ndarray: ...


class PixelEmbedding:
    """The 32 x 32 luma thumbnail, minus its mean, L2-normalised: a model-free pixel-space embedding."""

    name = "pixel"

    def __call__(self, images: np.ndarray) -> np.ndarray:
        flat = thumbnails(images).reshape(len(images), -1)
        flat -= flat.mean(axis=1, keepdims=True)
        return flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class DuplicateSettings:
    """How duplicates are told: hash distance in bits, and the embedding similarity confirming a pair."""

    threshold: int = DEFAULT_THRESHOLD
    similarity: float = DEFAULT_SIMILARITY

    def __post_init__(self) -> None:
        if not 0 <= self.threshold < HASH_BITS // 2:
            raise BenchError(
                f"hash threshold {self.threshold} is outside [0, {HASH_BITS // 2})",
                f"pass --threshold between 0 and {HASH_BITS // 2 - 1} (default {DEFAULT_THRESHOLD})",
            )
        if not -1.0 <= self.similarity <= 1.0:
            raise BenchError(
                f"similarity {self.similarity} is not a cosine in [-1, 1]",
                f"pass --similarity in [-1, 1] (default {DEFAULT_SIMILARITY})",
            )


@dataclass(frozen=True)
class Duplicates:
    """The duplicates among ``len(groups)`` images.

    ``groups[i]`` is the smallest index in image i's group (i itself when it has no duplicate).
    ``near_pairs`` rows are ``(i, j, hash distance, orientation of j)`` for confirmed pairs of images that
    are not identical, ``similarity`` their embedding cosines; ``candidates`` counts the pairs of images
    that are not identical within the hash threshold, before confirmation.
    """

    groups: np.ndarray
    exact_pairs: int
    near_pairs: np.ndarray
    similarity: np.ndarray
    candidates: int
    settings: DuplicateSettings
    embedding: str  # the name of the embedder that confirmed the pairs

    def members(self) -> list[np.ndarray]:
        """The indices of each group of two or more images, groups ordered by their first member."""
        firsts, counts = np.unique(self.groups, return_counts=True)
        return [np.flatnonzero(self.groups == first) for first in firsts[counts > 1]]

    def describe(self) -> str:
        """'3 duplicate groups (7 images)', or 'no duplicates'."""
        groups = self.members()
        if not groups:
            return "no duplicates"
        return f"{len(groups)} duplicate groups ({sum(len(group) for group in groups)} images)"

    def criterion(self) -> str:
        """How a duplicate was told, e.g. 'pHash<=32/252 bits incl. rotations+flips, pixel cosine>=0.98'."""
        return (
            f"pHash<={self.settings.threshold}/{HASH_BITS} bits incl. rotations+flips, "
            f"{self.embedding} cosine>={self.settings.similarity:g}"
        )


def _exact_groups(found: Fingerprints) -> tuple[np.ndarray, int]:
    """(index of the first image with the same digest, for each image; number of identical pairs)."""
    _, first, inverse, counts = np.unique(found.digests, return_index=True, return_inverse=True, return_counts=True)
    return first[inverse], int(np.sum(counts * (counts - 1) // 2))


def _embedded(data: GalaxyData, indices: np.ndarray, orientations: np.ndarray, embed: Embedder) -> np.ndarray:
    """Embeddings of images ``indices`` of ``data``, each turned to its orientation, read a chunk at a time."""
    chunks = []
    for start in range(0, len(indices), CHUNK):
        images = data.read(indices[start : start + CHUNK])
        turns = orientations[start : start + CHUNK].tolist()
        chunks.append(embed(np.stack([orient(image, o, axes=(0, 1)) for image, o in zip(images, turns, strict=True)])))
    return np.concatenate(chunks)


def _similarities(data: GalaxyData, pairs: np.ndarray, embed: Embedder) -> np.ndarray:
    """Cosine of each pair (i, j, distance, orientation): image i against image j in that orientation.

    Each image (in each orientation needed) is embedded once, however many pairs it is in.
    """
    if len(pairs) == 0:
        return np.empty(0)
    firsts, first_row = np.unique(pairs[:, 0], return_inverse=True)
    seconds, second_row = np.unique(pairs[:, [1, 3]], axis=0, return_inverse=True)
    first_vectors = _embedded(data, firsts, np.zeros(len(firsts), dtype=np.int64), embed)
    second_vectors = _embedded(data, seconds[:, 0], seconds[:, 1], embed)
    return np.sum(first_vectors[first_row.reshape(-1)] * second_vectors[second_row.reshape(-1)], axis=1)


def connected_groups(count: int, pairs: np.ndarray) -> np.ndarray:
    """For ``count`` images joined by ``pairs`` (k, 2), the smallest index in each image's group (union-find:
    every root is the smallest index of its tree, so joining two trees under the smaller root keeps that)."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for first, second in pairs.tolist():
        a, b = root(first), root(second)
        parent[max(a, b)] = min(a, b)
    return np.array([root(i) for i in range(count)], dtype=np.int64)


def find_duplicates(
    data: GalaxyData,
    settings: DuplicateSettings = DuplicateSettings(),
    embed: Embedder | None = None,
    found: Fingerprints | None = None,
) -> Duplicates:
    """The exact and near duplicates among the images of ``data``.

    ``embed`` confirms the hash's pairs (default: :class:`PixelEmbedding`); ``found`` passes fingerprints
    already taken of ``data``.
    """
    embed = embed or PixelEmbedding()
    found = found if found is not None else fingerprint(data)
    exact_first, exact_pairs = _exact_groups(found)
    candidates = hamming_pairs(found.hashes, settings.threshold)
    different = candidates[exact_first[candidates[:, 0]] != exact_first[candidates[:, 1]]]
    cosines = _similarities(data, different, embed)
    confirmed = cosines >= settings.similarity
    near = different[confirmed]
    copies = np.flatnonzero(exact_first != np.arange(len(found)))
    joins = np.concatenate([np.stack([copies, exact_first[copies]], axis=1), near[:, :2]])
    return Duplicates(
        groups=connected_groups(len(found), joins),
        exact_pairs=exact_pairs,
        near_pairs=near,
        similarity=cosines[confirmed],
        candidates=len(different),
        settings=settings,
        embedding=embed.name,
    )
