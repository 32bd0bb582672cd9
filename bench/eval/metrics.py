"""Classification metrics and similarity-retrieval mean average precision."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from bench.api.task import UndefinedMetric


def _as_numpy(y: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    array = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    return array


def _pair(
    y_true: torch.Tensor | np.ndarray, y_pred: torch.Tensor | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    true, pred = _as_numpy(y_true, "y_true"), _as_numpy(y_pred, "y_pred")
    if len(true) != len(pred):
        raise ValueError(f"y_true and y_pred differ in length: {len(true)} vs {len(pred)}")
    if len(true) == 0:
        raise ValueError("y_true and y_pred are empty")
    return true, pred


def _check_class_indices(y: np.ndarray, num_classes: int, name: str) -> None:
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_):
        raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"{name} has values outside [0, {num_classes}): min {y.min()}, max {y.max()}")


def _sort_rows(x: torch.Tensor) -> torch.Tensor:
    """Each row's values in ascending order (on CPU via NumPy, whose vectorised sort is much faster)."""
    if x.device.type == "cpu":
        return torch.from_numpy(np.sort(x.numpy(), axis=1))
    return x.sort(dim=1).values


def accuracy(y_true: torch.Tensor | np.ndarray, y_pred: torch.Tensor | np.ndarray) -> float:
    """Fraction of samples with ``y_pred == y_true``."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(true == pred))


def macro_f1(
    y_true: torch.Tensor | np.ndarray, y_pred: torch.Tensor | np.ndarray, num_classes: int | None = None
) -> float:
    """Unweighted mean over classes of F1 = 2 TP / (2 TP + FP + FN).

    The classes are ``range(num_classes)``, or, when ``num_classes`` is None, the labels that occur
    in ``y_true`` or ``y_pred``. A class absent from both has 2 TP + FP + FN = 0: its F1 counts as 0
    and it stays in the mean. This matches scikit-learn's
    ``f1_score(y_true, y_pred, average="macro", labels=classes, zero_division=0)``.
    """
    true, pred = _pair(y_true, y_pred)
    if num_classes is None:
        classes = np.unique(np.concatenate([true, pred]))
        true, pred, num_classes = np.searchsorted(classes, true), np.searchsorted(classes, pred), len(classes)
    matrix = confusion_matrix(true, pred, num_classes)
    tp = np.diag(matrix)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)  # (TP + FP) + (TP + FN)
    f1 = np.divide(2 * tp, denominator, out=np.zeros(num_classes), where=denominator > 0)
    return float(f1.mean())


def confusion_matrix(
    y_true: torch.Tensor | np.ndarray, y_pred: torch.Tensor | np.ndarray, num_classes: int
) -> np.ndarray:
    """(C, C) int64 counts: entry ``[t, p]`` is the number of samples of true class t predicted as p."""
    true, pred = _pair(y_true, y_pred)
    _check_class_indices(true, num_classes, "y_true")
    _check_class_indices(pred, num_classes, "y_pred")
    flat = true.astype(np.int64) * num_classes + pred.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def retrieval_map(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    ks: Sequence[int | None] = (5, None),
    chunk_size: int = 1024,
    kernel: Literal["auto", "count", "sort"] = "auto",
    tm_ks: Sequence[int] = (),
) -> dict[str, float]:
    """Mean average precision of same-class retrieval by cosine similarity, as in GalaxAlign.

    Every row of ``embeddings`` (N, D) is a query against the other N - 1 rows (itself excluded).
    Rows are cast to float32 and L2-normalised here (an all-zero row scores 0 against everything);
    the score of item j for query q is ``s_qj = e_q . e_j``, one float32 matmul. Item j is relevant
    when ``labels[j] == labels[q]``; R_q is the number of relevant items among the N - 1 others.

    Ranking: descending score, ties broken by ascending index, so rank i (1-based) holds one item,
    with score s_i. Precision does not depend on how ties are ordered: the precision at rank i is
    ``P(i) = #{relevant j != q : s_qj >= s_i} / #{j != q : s_qj >= s_i}``, i.e. the precision at
    the end of the tie group containing rank i. Only bitwise-equal float32 scores tie: duplicate rows
    may score differently in the last bit, depending on how the matmul blocks its work.

    - Full AP ("map"): ``AP_q = (1 / R_q) * sum_{i=1..N-1} P(i) * rel(i)``. This equals
      scikit-learn's ``average_precision_score(relevance, scores)`` for the query, ties included.
    - AP@k ("map@k"): ``AP@k_q = (1 / min(k, R_q)) * sum_{i=1..min(k, N-1)} P(i) * rel(i)``. The
      cut-off keeps exactly the first k ranks of the tie-broken order (fewer when k > N - 1); a
      tie group straddling rank k contributes only its members ranked within k, each with the
      tie-group precision above. For k >= N - 1, AP@k equals full AP.
    - torchmetrics' AP@k ("map@k_tm", for each k in ``tm_ks``), the convention of its
      ``RetrievalMAP(top_k=k)``: ``(1 / H_q) * sum_{i=1..min(k, N-1)} P'(i) * rel(i)``, where
      ``P'(i) = #{relevant in ranks 1..i} / i`` is the precision at the item's own rank of the
      tie-broken order and H_q the number of relevant items in the top k; 0 when H_q = 0. This is
      torchmetrics' value when its scores are ordered as ours (torchmetrics leaves the order of tied
      scores to ``torch.topk``, which does not fix one) and all positive (it counts an item scoring
      <= 0 as irrelevant; cosine scores may be negative, and here they count by label).

    Queries with R_q = 0 have undefined AP and are left out (torchmetrics'
    ``empty_target_action="skip"``); each value is the float64 mean of AP over the remaining
    queries, whose number is returned under "queries". Keys are ``"map@{k}"`` for an int k,
    ``"map"`` for None, and ``"map@{k}_tm"`` for the ks of ``tm_ks``.

    Memory is O(chunk_size * N), never N x N: the similarity matrix is made ``chunk_size`` query
    rows at a time. ``kernel`` picks how a block is ranked: "count" (the default on the CPU) sorts
    only each query's relevant scores and places the other items among them by bucket counting,
    compiled and parallel over queries (:mod:`bench.eval.ranking`); "sort" (the default on other devices,
    where sorting is fast) sorts whole rows on the device of ``embeddings``, one class at a time, and
    counts by binary search. Both give the same values, every convention in the same pass.

    Raises ValueError on bad shapes or arguments, non-finite embeddings, or when no query has a
    relevant item.
    """
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (N, D), got shape {tuple(embeddings.shape)}")
    n = embeddings.shape[0]
    if n < 2:
        raise UndefinedMetric(f"retrieval needs at least two embeddings, got {n}")
    labels = torch.as_tensor(labels, device=embeddings.device)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    for k in ks:
        if k is not None and k < 1:
            raise ValueError(f"every k in ks must be a positive int or None, got {k}")
    for k in tm_ks:
        if k < 1:
            raise ValueError(f"every k in tm_ks must be a positive int, got {k}")
    if not torch.isfinite(embeddings).all():
        raise ValueError("embeddings contain NaN or infinite values")

    normed = F.normalize(embeddings.detach().float(), dim=1)
    counting = kernel == "count" or (kernel == "auto" and normed.device.type == "cpu")
    totals, num_queries = (_counting_totals if counting else _sorting_totals)(normed, labels, ks, tm_ks, chunk_size)
    if num_queries == 0:
        raise UndefinedMetric(
            "no query has another embedding of its class, so retrieval mAP is undefined; "
            "every class needs at least two members"
        )
    result = {name: total / num_queries for name, total in totals.items()}
    result["queries"] = float(num_queries)
    return result


def _name(k: int | None) -> str:
    return "map" if k is None else f"map@{k}"


def _tm_name(k: int) -> str:
    return f"map@{k}_tm"


Totals = tuple[dict[str, float], int]  # (sum of AP over the queries with R >= 1, by key; their number)


def _counting_totals(
    normed: torch.Tensor, labels: torch.Tensor, ks: Sequence[int | None], tm_ks: Sequence[int], chunk_size: int
) -> Totals:
    """Sums of AP@k over queries, by the compiled counting kernel of :mod:`bench.eval.ranking` (CPU)."""
    from bench.eval.ranking import block_average_precisions, torch_threads

    n = len(labels)
    codes = np.unique(labels.cpu().numpy(), return_inverse=True)[1].astype(np.int64)
    class_sizes = np.bincount(codes)
    cutoffs = np.array([n - 1 if k is None else min(k, n - 1) for k in ks], dtype=np.int64)
    tm_cutoffs = np.array([min(k, n - 1) for k in tm_ks], dtype=np.int64)
    blocks = []
    with torch_threads():
        for start in range(0, n, chunk_size):
            queries = np.arange(start, min(start + chunk_size, n))
            scores = (normed[start : start + len(queries)] @ normed.T).cpu().numpy()
            blocks.append(block_average_precisions(scores, codes, queries, class_sizes, cutoffs, tm_cutoffs))
    ap = np.concatenate(blocks)
    ap = ap[~np.isnan(ap[:, 0])]
    names = [*map(_name, ks), *map(_tm_name, tm_ks)]
    # Exactly rounded sums: a value does not depend on the chunk size or on the other ks asked for.
    return {name: math.fsum(ap[:, slot]) for slot, name in enumerate(names)}, len(ap)


def _sorting_totals(
    normed: torch.Tensor, labels: torch.Tensor, ks: Sequence[int | None], tm_ks: Sequence[int], chunk_size: int
) -> Totals:
    """Sums of AP@k over queries by sorting score rows with torch, on the device of ``normed``."""
    device, n = normed.device, len(labels)
    totals = {k: torch.zeros((), dtype=torch.float64, device=device) for k in ks}
    tm_totals = {k: torch.zeros((), dtype=torch.float64, device=device) for k in tm_ks}
    deepest = min(max(tm_ks, default=0), n - 1)
    ranks = torch.arange(1, deepest + 1, device=device, dtype=torch.float64)
    num_queries = 0
    # Queries of one class share their relevant set (the class), so a chunk's relevant scores
    # form a dense (chunk, R) block.
    for cls in labels.unique():
        members = (labels == cls).nonzero().squeeze(1)
        num_relevant = len(members) - 1
        if num_relevant == 0:
            continue
        num_queries += len(members)
        for start in range(0, len(members), chunk_size):
            queries = members[start : start + chunk_size]
            sims = normed[queries] @ normed.T
            sims[torch.arange(len(queries), device=device), queries] = -torch.inf  # the query itself
            scores = _sort_rows(sims)  # ascending; column 0 is the query, column n - k the k-th best
            relevant_scores = _sort_rows(sims[:, members])[:, 1:].contiguous()
            at_least = n - torch.searchsorted(scores, relevant_scores)
            relevant_at_least = num_relevant - torch.searchsorted(relevant_scores, relevant_scores)
            precision = relevant_at_least / at_least.double()  # P at each relevant item, ascending score
            for k in totals:
                if k is None or k >= n - 1:
                    totals[k] += precision.sum() / num_relevant
                    continue
                kth = scores[:, n - k, None].contiguous()  # the k-th best score
                above = n - torch.searchsorted(scores, kth, right=True)  # all of these are in the top k
                tied = n - above - torch.searchsorted(scores, kth)
                first_tied = torch.searchsorted(relevant_scores, kth)
                past_tied = torch.searchsorted(relevant_scores, kth, right=True)
                # Items tied with the k-th score fill the k - above remaining places in index order.
                # Where they all fit, so do their past_tied - first_tied relevant ones; else count.
                admitted_relevant = past_tied - first_tied
                straddling = (above + tied > k).squeeze(1)
                is_tied = sims[straddling] == kth[straddling]
                admitted = is_tied & (is_tied.cumsum(dim=1) <= k - above[straddling])
                admitted_relevant[straddling] = admitted[:, members].sum(dim=1, keepdim=True)
                # In the top k: relevant items above the k-th score and admitted_relevant of those tied
                # with it (which ones does not matter: they share one precision).
                in_top = torch.arange(num_relevant, device=device) >= past_tied - admitted_relevant
                totals[k] += torch.where(in_top, precision, 0.0).sum() / min(k, num_relevant)
            if tm_ks:
                # torchmetrics' convention: the top ranks in order (a stable sort keeps ties in index
                # order; the query, at -inf, sorts last), precision at each relevant item's own rank.
                order = torch.sort(sims, dim=1, descending=True, stable=True).indices[:, :deepest]
                hits = (labels[order] == cls).double()
                gains = hits.cumsum(dim=1) / ranks * hits
                for k in tm_ks:
                    found = hits[:, : min(k, n - 1)].sum(dim=1)
                    gained = gains[:, : min(k, n - 1)].sum(dim=1)
                    tm_totals[k] += torch.where(found > 0, gained / found.clamp(min=1), 0.0).sum()

    sums = {_name(k): float(total) for k, total in totals.items()}
    return {**sums, **{_tm_name(k): float(total) for k, total in tm_totals.items()}}, num_queries
