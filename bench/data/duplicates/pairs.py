"""All pairs of images whose perceptual hashes lie within a Hamming distance, in any orientation."""

from __future__ import annotations

import numpy as np

ROWS_PER_BLOCK = 64  # query images compared with all later images at once: keeps the work in cache
SCREEN_WORDS = 2  # words compared for every pair; the rest only for pairs these leave within the threshold


def _distances(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Bits in which uint64 hashes (..., words) differ, summed over the words (broadcasting)."""
    return np.bitwise_count(first ^ second).sum(axis=-1, dtype=np.int64)


def _screen(by_word: np.ndarray, start: int, stop: int, threshold: int) -> np.ndarray:
    """(rows, columns) of the pairs (i, j), start <= i < stop, i < j, whose first ``SCREEN_WORDS`` words are
    within ``threshold`` bits in some orientation of j: a lower bound on the full distance."""
    query = by_word[0, :, start:stop, None]  # (words, rows, 1) against the columns from start on
    best = np.full((stop - start, by_word.shape[2] - start), np.iinfo(np.uint8).max, dtype=np.uint8)
    for oriented in by_word[:, :SCREEN_WORDS, None, start:]:
        distance = np.bitwise_count(query[0] ^ oriented[0])
        for word in range(1, len(oriented)):
            distance += np.bitwise_count(query[word] ^ oriented[word])
        np.minimum(best, distance, out=best)
    rows, columns = np.nonzero(best <= threshold)
    keep = columns > rows  # the upper triangle: column start + c is image j, row start + r is image i
    return np.stack([rows[keep] + start, columns[keep] + start], axis=1)


def hamming_pairs(hashes: np.ndarray, threshold: int) -> np.ndarray:
    """int64 (k, 4) rows ``(i, j, distance, orientation)`` for every pair i < j whose hashes differ in at
    most ``threshold`` bits, sorted by (i, j).

    ``hashes`` is uint64 (n, orientations, words): each image's hash in each orientation. The distance of a
    pair is the fewest bits in which j's hash in some orientation differs from i's in orientation 0, and
    ``orientation`` is the first orientation of j that attains it. The search is brute force over the upper
    triangle, a block of rows at a time, with XOR and popcount on 64-bit words.
    """
    by_word = np.ascontiguousarray(hashes.transpose(1, 2, 0))  # (orientations, words, n)
    screened = np.concatenate(
        [
            _screen(by_word, start, min(start + ROWS_PER_BLOCK, len(hashes)), threshold)
            for start in range(0, len(hashes), ROWS_PER_BLOCK)
        ]
    ).astype(np.int64)
    per_orientation = _distances(hashes[screened[:, 0], None, 0], hashes[screened[:, 1]])  # (k, orientations)
    pairs = np.column_stack([screened, per_orientation.min(axis=1), per_orientation.argmin(axis=1)])
    return pairs[pairs[:, 2] <= threshold]
