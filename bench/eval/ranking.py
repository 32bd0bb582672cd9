"""Per-query average precision over a block of similarity scores, without sorting whole rows.

The CPU kernel behind :func:`bench.eval.metrics.retrieval_map` (see its docstring for the definitions).
For a query with R relevant items among N others, it sorts only the R relevant scores, then
places each other item among them in O(1) expected time through a table over equal-width
buckets: O(N + R log R) per query instead of O(N log N), compiled with numba and run in
parallel over the queries. torchmetrics' AP@k (precision at each item's own rank) needs only the
top k in rank order, which one more pass over the row keeps in a k-slot insertion list.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
import torch

BUCKETS_PER_RELEVANT = 8


@numba.njit(cache=True, inline="always")
def _count_at_most(relevant: np.ndarray, lookup: np.ndarray, low: float, scale: float, x: float) -> int:
    """How many of the sorted ``relevant`` scores (followed by a +inf sentinel) are <= ``x``, for
    ``x`` inside their range."""
    bucket = min(int((x - low) * scale), len(lookup) - 2)
    count = lookup[bucket]  # relevant scores in lower buckets: all < x, as the bucket map is monotone
    # Buckets hold few scores: two branch-free steps settle almost every item.
    count += relevant[count] <= x
    count += relevant[count] <= x
    while relevant[count] <= x:
        count += 1
    return count


@numba.njit(cache=True)
def _bucket_sort(values: np.ndarray, bucket_of: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    """``values`` in ascending order, given each one's (monotone) bucket and the bucket offsets."""
    placed = np.empty_like(values)
    next_slot = lookup[:-1].copy()
    for i in range(len(values)):
        placed[next_slot[bucket_of[i]]] = values[i]
        next_slot[bucket_of[i]] += 1
    for i in range(1, len(placed)):  # insertion sort: only values sharing a bucket are out of order
        x, j = placed[i], i
        while j > 0 and placed[j - 1] > x:
            placed[j] = placed[j - 1]
            j -= 1
        placed[j] = x
    return placed


@numba.njit(cache=True)
def _kth_largest(row: np.ndarray, query: int, k: int) -> float:
    """The k-th largest score of ``row`` leaving out position ``query`` (k <= len(row) - 1)."""
    best = np.full(k, -np.inf, dtype=row.dtype)  # descending
    for j in range(len(row)):
        x = row[j]
        if j == query or x <= best[k - 1]:
            continue
        slot = k - 1
        while slot > 0 and best[slot - 1] < x:
            best[slot] = best[slot - 1]
            slot -= 1
        best[slot] = x
    return best[k - 1]


@numba.njit(cache=True)
def _query_ap(
    row: np.ndarray, labels: np.ndarray, query: int, num_relevant: int, ks: np.ndarray, tm_ks: np.ndarray
) -> np.ndarray:
    """AP@k for every k in ``ks`` (k >= N - 1 meaning full AP), then torchmetrics' AP@k for every k in
    ``tm_ks``, of one query with R >= 1."""
    n, own = len(row), labels[query]
    relevant = np.empty(num_relevant, dtype=row.dtype)
    filled = 0
    for j in range(n):
        if labels[j] == own and j != query:
            relevant[filled] = row[j]
            filled += 1
    low, high = relevant.min(), relevant.max()
    buckets = BUCKETS_PER_RELEVANT * num_relevant
    scale = buckets / (high - low) if high > low else 0.0
    lookup = np.zeros(buckets + 1, dtype=np.int64)  # lookup[b]: relevant scores in buckets < b
    bucket_of = np.empty(num_relevant, dtype=np.int64)
    for i in range(num_relevant):
        bucket_of[i] = min(int((relevant[i] - low) * scale), buckets - 1)
        lookup[bucket_of[i] + 1] += 1
    lookup = np.cumsum(lookup)
    relevant = np.append(_bucket_sort(relevant, bucket_of, lookup), np.inf).astype(row.dtype)

    # above[t]: other (irrelevant) items scoring >= relevant[t]; built from a histogram of how many
    # relevant scores each irrelevant item is at least.
    above = np.zeros(num_relevant + 2, dtype=np.int64)
    for j in range(n):
        x = row[j]
        if j == query or labels[j] == own or x < low:
            continue
        at_most = num_relevant if x >= high else _count_at_most(relevant, lookup, low, scale, x)
        above[at_most] += 1
    for t in range(num_relevant - 1, -1, -1):
        above[t] += above[t + 1]

    result = np.zeros(len(ks) + len(tm_ks), dtype=np.float64)
    cutoffs = np.empty(len(ks), dtype=row.dtype)
    for slot, k in enumerate(ks):
        cutoffs[slot] = -np.inf if k >= n - 1 else _kth_largest(row, query, k)
    # Walk the relevant scores from the best down, one tie group [first, last] at a time.
    last = num_relevant - 1
    while last >= 0:
        first = last
        while first > 0 and relevant[first - 1] == relevant[last]:
            first -= 1
        relevant_at_least = num_relevant - first
        precision = relevant_at_least / (relevant_at_least + above[first + 1])
        for slot in range(len(ks)):
            if relevant[last] > cutoffs[slot]:
                result[slot] += (last - first + 1) * precision
            elif relevant[last] == cutoffs[slot]:
                result[slot] += _admitted_relevant(row, labels, query, ks[slot], cutoffs[slot]) * precision
        last = first - 1
    for slot, k in enumerate(ks):
        result[slot] /= min(k, num_relevant)
    if len(tm_ks) > 0:
        result[len(ks) :] = _positional_ap(row, labels, query, tm_ks)
    return result


@numba.njit(cache=True)
def _top_ranked(row: np.ndarray, query: int, k: int) -> np.ndarray:
    """The indices of the k best items of ``row`` leaving out position ``query``, in rank order:
    descending score, ties by ascending index (k <= len(row) - 1)."""
    best = np.zeros(k, dtype=np.int64)
    scores = np.full(k, -np.inf, dtype=row.dtype)
    for j in range(len(row)):
        x = row[j]
        if j == query or x <= scores[k - 1]:  # an equal score of a later index ranks after
            continue
        slot = k - 1
        while slot > 0 and scores[slot - 1] < x:
            best[slot], scores[slot] = best[slot - 1], scores[slot - 1]
            slot -= 1
        best[slot], scores[slot] = j, x
    return best


@numba.njit(cache=True)
def _positional_ap(row: np.ndarray, labels: np.ndarray, query: int, tm_ks: np.ndarray) -> np.ndarray:
    """torchmetrics' AP@k for every k in ``tm_ks``: over the top k ranks, the mean of the precision
    at each relevant item's own rank (relevant so far / rank); 0 when the top k holds none."""
    top = _top_ranked(row, query, tm_ks.max())
    hits = np.zeros(len(top) + 1, dtype=np.int64)  # hits[i]: relevant items in ranks 1..i
    gains = np.zeros(len(top) + 1, dtype=np.float64)  # gains[i]: their precisions, summed
    for i in range(len(top)):
        relevant = labels[top[i]] == labels[query]
        hits[i + 1] = hits[i] + relevant
        gains[i + 1] = gains[i] + (hits[i + 1] / (i + 1) if relevant else 0.0)
    result = np.zeros(len(tm_ks), dtype=np.float64)
    for slot, k in enumerate(tm_ks):
        result[slot] = gains[k] / hits[k] if hits[k] > 0 else 0.0
    return result


@numba.njit(cache=True)
def _admitted_relevant(row: np.ndarray, labels: np.ndarray, query: int, k: int, cutoff: float) -> int:
    """Relevant items tied with the k-th score that make the top k, ties taken in index order."""
    room = k
    for j in range(len(row)):
        if j != query and row[j] > cutoff:
            room -= 1
    admitted = 0
    for j in range(len(row)):
        if room == 0:
            break
        if j != query and row[j] == cutoff:
            room -= 1
            admitted += labels[j] == labels[query]
    return admitted


@contextmanager
def torch_threads() -> Iterator[None]:
    """Inside, the kernel runs on as many threads as torch does, and torch's count is the same after.
    numba's OpenMP layer, started by the first parallel call, sets the OpenMP thread count it shares
    with torch to every core: a process given fewer (a local worker, a DDP rank on the CPU) would
    train on all of them from its first retrieval evaluation on, oversubscribing the machine."""
    threads = torch.get_num_threads()
    try:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
        yield
    finally:
        torch.set_num_threads(threads)


@numba.njit(parallel=True, cache=True)
def block_average_precisions(
    scores: np.ndarray,
    labels: np.ndarray,
    queries: np.ndarray,
    class_sizes: np.ndarray,
    ks: np.ndarray,
    tm_ks: np.ndarray,
) -> np.ndarray:
    """(Q, len(ks) + len(tm_ks)): AP@k for each k in ``ks``, then torchmetrics' AP@k for each k in
    ``tm_ks`` (each k at most N - 1), of the queries whose score rows are ``scores`` (Q, N); NaN
    where a query has no relevant item. ``class_sizes[c]`` counts label c in ``labels``; in ``ks``,
    k >= N - 1 is full AP."""
    out = np.full((len(queries), len(ks) + len(tm_ks)), np.nan)
    for i in numba.prange(len(queries)):
        num_relevant = class_sizes[labels[queries[i]]] - 1
        if num_relevant > 0:
            out[i] = _query_ap(scores[i], labels, queries[i], num_relevant, ks, tm_ks)
    return out
