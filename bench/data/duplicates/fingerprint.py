"""Image fingerprints: byte digests, grayscale thumbnails and a rotation-aware perceptual hash.

The perceptual hash is a DCT pHash (as in the ``imagehash`` package: bits from the low DCT frequencies
of a 32 x 32 luma thumbnail) made to tell galaxies apart. Every galaxy is a bright central blob, so a
plain 64-bit pHash of galaxies mostly encodes that blob: on the demo set 3 % of all pairs of distinct
galaxies lie within 6 of 64 bits. Here each thumbnail first loses its azimuthally averaged profile (the
mean of each ring of pixels around the centre), and the hash keeps the sign of the residual's DCT
coefficients at the ``HASH_BITS`` = 252 frequencies with 1 <= u + v <= 21. A galaxy has no up, so the
hash is taken in all eight orientations (four rotations by 90 degrees, each with and without a
left-right flip); a rotated or mirrored copy matches one of them exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

import numpy as np

from bench.api.data import GalaxyData
from bench.io.progress import progress_bar

THUMBNAIL_SIDE = 32
MAX_FREQUENCY = 21  # hashed: every DCT frequency (u, v) with 1 <= u + v <= MAX_FREQUENCY
HASH_BITS = MAX_FREQUENCY * (MAX_FREQUENCY + 3) // 2  # 252, packed into four 64-bit words
ZERO = 1e-6  # coefficients up to this count as zero (bit 0), so that flat images hash alike in every orientation
ORIENTATIONS = 8
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL's convert("L")
CHUNK = 256  # images read at a time


def orient(array: np.ndarray, orientation: int, axes: tuple[int, int]) -> np.ndarray:
    """``array`` left-right flipped when ``orientation >= 4``, then rotated by 90 degrees ``orientation % 4``
    times, in the plane of ``axes`` (rows, columns)."""
    flipped = np.flip(array, axis=axes[1]) if orientation >= 4 else array
    return np.rot90(flipped, k=orientation % 4, axes=axes)


@cache
def _area_weights(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) matrix averaging input pixels over each output pixel's span (area resampling)."""
    edges = np.linspace(0.0, size_in, size_out + 1)
    pixel = np.arange(size_in)
    overlap = np.minimum(pixel + 1, edges[1:, None]) - np.maximum(pixel, edges[:-1, None])
    return (np.clip(overlap, 0.0, None) / np.diff(edges)[:, None]).astype(np.float32)


def thumbnails(images: np.ndarray) -> np.ndarray:
    """float32 (n, 32, 32) luma thumbnails, 0-255, of uint8 images (n, H, W, 3)."""
    gray = sum(images[..., channel] * weight for channel, weight in enumerate(LUMA))
    count, height, width = gray.shape
    narrowed = gray.reshape(count * height, width) @ _area_weights(width, THUMBNAIL_SIDE).T  # one large product
    return _area_weights(height, THUMBNAIL_SIDE) @ narrowed.reshape(count, height, THUMBNAIL_SIDE)


@cache
def _rings() -> tuple[np.ndarray, np.ndarray]:
    """(ring index of each thumbnail pixel, (rings, pixels) matrix averaging each ring). Rings are the
    pixels at the same rounded distance from the centre, so rotations and flips map each ring onto itself."""
    rows, columns = np.mgrid[0:THUMBNAIL_SIDE, 0:THUMBNAIL_SIDE] - (THUMBNAIL_SIDE - 1) / 2
    _, ring = np.unique(np.round(np.hypot(rows, columns)).ravel(), return_inverse=True)
    members = ring[None, :] == np.arange(ring.max() + 1)[:, None]
    return ring, members / members.sum(axis=1, keepdims=True)


def _radial_residual(thumbs: np.ndarray) -> np.ndarray:
    """``thumbs`` (n, 32, 32) minus their azimuthally averaged profile about the centre."""
    ring, average = _rings()
    flat = thumbs.reshape(len(thumbs), -1)
    return (flat - (flat @ average.T)[:, ring]).reshape(thumbs.shape)


@cache
def _dct_matrix(size: int) -> np.ndarray:
    """Orthonormal DCT-II matrix: ``D @ x`` transforms a length-``size`` signal."""
    k, n = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    matrix = np.sqrt(2.0 / size) * np.cos(np.pi * (2 * n + 1) * k / (2 * size))
    matrix[0] /= np.sqrt(2.0)
    return matrix


@cache
def _hash_frequencies() -> np.ndarray:
    """Flat indices ``32 * u + v`` of the hashed DCT frequencies, ordered by u + v, then u."""
    u, v = np.meshgrid(np.arange(THUMBNAIL_SIDE), np.arange(THUMBNAIL_SIDE), indexing="ij")
    order = np.lexsort((u.ravel(), (u + v).ravel()))
    return order[1 : HASH_BITS + 1]


def _oriented(coefficients: np.ndarray, orientation: int) -> np.ndarray:
    """The DCT of an oriented image (see :func:`orient`) from the DCT (..., 32, 32) of the image.

    ``np.rot90`` is a flip of the columns then a transpose; flipping the columns multiplies DCT-II
    frequency v by (-1)^v, and transposing the image transposes its DCT.
    """
    signs = (-1.0) ** np.arange(THUMBNAIL_SIDE)
    if orientation >= 4:
        coefficients = coefficients * signs
    for _ in range(orientation % 4):
        coefficients = np.swapaxes(coefficients * signs, -1, -2)
    return coefficients


@cache
def _hash_projection() -> np.ndarray:
    """(1024, HASH_BITS): a flattened thumbnail times this is the DCT of its radial residual at the hashed
    frequencies (both steps are linear; the matrix is their effect on each one-pixel image)."""
    unit_images = np.eye(THUMBNAIL_SIDE**2).reshape(-1, THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    dct = _dct_matrix(THUMBNAIL_SIDE)
    return (dct @ _radial_residual(unit_images) @ dct.T).reshape(len(unit_images), -1)[:, _hash_frequencies()]


@cache
def _orientation_tables() -> tuple[np.ndarray, np.ndarray]:
    """(8, HASH_BITS) position among the hashed coefficients of an image, and sign, of each hashed
    coefficient of the oriented image (the hashed frequencies are closed under transposition)."""
    numbered = np.zeros(THUMBNAIL_SIDE**2)
    numbered[_hash_frequencies()] = np.arange(1, HASH_BITS + 1)
    square = numbered.reshape(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    tables = np.stack([_oriented(square, o).ravel()[_hash_frequencies()] for o in range(ORIENTATIONS)])
    return np.abs(tables).astype(np.int64) - 1, np.sign(tables)


def oriented_hashes(thumbs: np.ndarray) -> np.ndarray:
    """uint64 (n, 8, 4): the hash of each thumbnail (n, 32, 32) in each orientation (see :func:`orient`).

    Bit k is set where DCT frequency k of :func:`_hash_frequencies` of the radial residual is positive.
    """
    coefficients = thumbs.reshape(len(thumbs), -1).astype(np.float64) @ _hash_projection()
    position, sign = _orientation_tables()
    bits = coefficients[:, position] * sign > ZERO
    return np.ascontiguousarray(np.packbits(bits, axis=2, bitorder="little")).view("<u8")


def digests(images: np.ndarray) -> np.ndarray:
    """A 16-byte digest (dtype S16) of each image's shape and pixels: equal only for identical arrays."""
    return np.array(
        [hashlib.blake2b(repr(image.shape).encode() + image.tobytes(), digest_size=16).digest() for image in images],
        dtype="S16",
    )


@dataclass(frozen=True)
class Fingerprints:
    """Per image: its byte digest (S16) and its hash in each orientation (uint64 (n, 8, 4))."""

    digests: np.ndarray
    hashes: np.ndarray

    def __len__(self) -> int:
        return len(self.digests)


def fingerprint_images(images: np.ndarray) -> Fingerprints:
    """Fingerprints of uint8 images (n, H, W, 3) held in memory."""
    return Fingerprints(digests(images), oriented_hashes(thumbnails(images)))


def fingerprint(data: GalaxyData) -> Fingerprints:
    """Fingerprints of every image of ``data``, read ``CHUNK`` images at a time."""
    parts = []
    with progress_bar() as bar:
        task = bar.add_task(f"hashing {data.name}", total=len(data), status="")
        for start in range(0, len(data), CHUNK):
            parts.append(fingerprint_images(data.read(np.arange(start, min(start + CHUNK, len(data))))))
            bar.advance(task, len(parts[-1]))
    return Fingerprints(np.concatenate([p.digests for p in parts]), np.concatenate([p.hashes for p in parts]))
