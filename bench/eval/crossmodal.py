"""Vision-language metrics: zero-shot classification and cross-modal retrieval from a similarity matrix.

Every metric here asks, for one query, where its best true match ranks among the candidates. Ranks are
pessimistic about ties: the rank of a query's best positive (0-based) is the number of *negative*
candidates scoring at least as high as it, so a negative tied with the best positive counts as ranked above
it, whatever order the ties are given. A query is a hit at cut-off k when that rank is below k: its true
match is inside the top k however its ties are broken. Only bitwise-equal float32 scores tie.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from bench.api.task import UndefinedMetric
from bench.eval.tasks.text_retrieval import PERCENTS, RECALL_KS

CHUNK = 1024  # query rows scored at a time: memory O(CHUNK x candidates)


def best_positive_ranks(scores: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """(Q,) long: for each query (row of ``scores`` (Q, C)), the number of negative candidates scoring at least
    as high as its best-scoring positive (``positives`` (Q, C) bool). ValueError for a query without a positive."""
    if scores.ndim != 2 or positives.shape != scores.shape:
        raise ValueError(f"scores and positives must be 2-D of one shape, got {tuple(scores.shape)} and "
                         f"{tuple(positives.shape)}")
    if not positives.any(dim=1).all():
        raise ValueError("every query needs at least one positive candidate")
    if not torch.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    best = scores.masked_fill(~positives, -torch.inf).amax(dim=1, keepdim=True)
    return ((scores >= best) & ~positives).sum(dim=1)


def hits_at(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """(Q,) bool: the queries whose best positive is inside the top ``k``."""
    if k < 1:
        raise ValueError(f"a cut-off must be at least 1, got {k}")
    return ranks < k


def percent_cutoff(percent: int, candidates: int) -> int:
    """PAPERCLIP's cut-off for the top ``percent`` % of ``candidates``: floor(percent / 100 * candidates),
    at least one candidate (exact integer arithmetic)."""
    return max(1, percent * candidates // 100)


def zeroshot_metrics(scores: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Zero-shot classification from (N, C) image-to-class scores, under CLIP_benchmark's names.

    - ``acc1``: fraction of images whose true class is the top-scoring one;
    - ``acc5``: fraction whose true class is among the top 5, reported only when C > 5 (with five or
      fewer classes it is 1 by construction; CLIP_benchmark reports it from C >= 5);
    - ``mean_per_class_recall``: the mean over the classes present in ``labels`` of each class's acc1
      (scikit-learn's ``balanced_accuracy_score`` of the top-scoring class).

    A class tied with the true class's score counts as ranked above it (see the module docstring); without
    ties acc1 / acc5 equal scikit-learn's ``top_k_accuracy_score``.
    """
    labels = torch.as_tensor(labels, device=scores.device).long()
    if scores.ndim != 2 or labels.shape != (scores.shape[0],):
        raise ValueError(f"scores must be (N, C) and labels (N,), got {tuple(scores.shape)} and {tuple(labels.shape)}")
    if len(labels) == 0:
        raise ValueError("no test images to classify")
    num_classes = scores.shape[1]
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels outside [0, {num_classes})")
    positives = torch.nn.functional.one_hot(labels, num_classes).bool()
    ranks = best_positive_ranks(scores.float(), positives)
    top1 = hits_at(ranks, 1).double()
    metrics = {"acc1": float(top1.mean())}
    if num_classes > 5:
        metrics["acc5"] = float(hits_at(ranks, 5).double().mean())
    present = labels.unique()
    metrics["mean_per_class_recall"] = float(torch.stack([top1[labels == c].mean() for c in present]).mean())
    return metrics


def retrieval_metrics(
    queries: torch.Tensor, candidates: torch.Tensor, positives: torch.Tensor,
    ks: Sequence[int] = RECALL_KS, percents: Sequence[int] = PERCENTS,
) -> dict[str, float]:
    """Retrieval of ``candidates`` (C, D) by ``queries`` (Q, D), scored by dot product (both L2-normalised by
    the caller), ``positives`` (Q, C) the true matches of each query.

    - ``recall@k``: fraction of queries with a true match among their top k candidates (CLIP_benchmark's
      recall@k, CLIP papers' convention: a query counts once, however many of its matches are found), for
      each k in ``ks`` below the number of candidates (with k >= C every query is a hit);
    - ``top{p}%``: PAPERCLIP's top-k% retrieval accuracy, the fraction of queries with a true match within
      the top floor(p / 100 * C) candidates (at least one), for each p in ``percents``.

    Ties count against the query (the module docstring). The queries are scored CHUNK rows at a time.
    UndefinedMetric when there are fewer than two candidates (every query would be a hit).
    """
    count = candidates.shape[0]
    if count < 2:
        raise UndefinedMetric(f"retrieval needs at least two candidates to rank, got {count}")
    if positives.shape != (queries.shape[0], count):
        raise ValueError(f"positives must have shape ({queries.shape[0]}, {count}), got {tuple(positives.shape)}")
    candidates = candidates.to(queries.device).float()
    positives = positives.to(queries.device)
    ranks = torch.cat([
        best_positive_ranks(queries[start : start + CHUNK].float() @ candidates.T, positives[start : start + CHUNK])
        for start in range(0, len(queries), CHUNK)
    ])
    metrics = {f"recall@{k}": float(hits_at(ranks, k).double().mean()) for k in ks if k < count}
    for percent in percents:
        metrics[f"top{percent}%"] = float(hits_at(ranks, percent_cutoff(percent, count)).double().mean())
    return metrics


def caption_positives(caption_of: torch.Tensor, num_captions: int) -> torch.Tensor:
    """(N, M) bool: image i's true caption is caption ``caption_of[i]`` of the M distinct ones."""
    return caption_of.long()[:, None] == torch.arange(num_captions, device=caption_of.device)[None, :]


def image_to_text(images: torch.Tensor, captions: torch.Tensor, caption_of: torch.Tensor) -> dict[str, float]:
    """Each test image queries the M distinct test captions; its own caption is the one true match.
    CLIP_benchmark's ``text_retrieval_recall@k`` (with one caption per image, exactly theirs), and PAPERCLIP's
    top-k% accuracy (its metric as the paper defines it, over distinct captions)."""
    positives = caption_positives(caption_of.to(images.device), captions.shape[0])
    return retrieval_metrics(images, captions, positives)


def text_to_image(images: torch.Tensor, captions: torch.Tensor, caption_of: torch.Tensor) -> dict[str, float]:
    """Each distinct test caption queries the N test images; every image with that caption is a true match, and
    the query is a hit if any of them is within the cut-off. CLIP_benchmark's ``image_retrieval_recall@k`` (with
    one distinct caption per image, exactly theirs), and PAPERCLIP's top-k% accuracy."""
    positives = caption_positives(caption_of.to(images.device), captions.shape[0])
    return retrieval_metrics(captions.to(images.device), images, positives.T)
