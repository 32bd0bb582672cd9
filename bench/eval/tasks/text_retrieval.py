"""What text2image and image2text share: their metrics, defined once for either direction (not a task itself)."""

from __future__ import annotations

from bench.api.task import Metric

RECALL_KS = (1, 5, 10)  # CLIP_benchmark's recall@k (kept here, where listing tasks imports no torch)
PERCENTS = (1, 5, 10)  # PAPERCLIP's top-k% retrieval accuracy
TIES = "a non-match tied with the best match counts as ranked above it"


def retrieval_metrics(direction: str, query: str, candidates: str) -> tuple[Metric, ...]:
    """recall@1/5/10 and top-1/5/10 % accuracy of ``query`` (e.g. "test caption") retrieving ``candidates``,
    their titles led by ``direction`` (e.g. "T→I")."""
    recalls = tuple(
        Metric(f"recall@{k}", f"{direction} R@{k}",
               definition=f"fraction of {query}s with a true match among their {k} most similar {candidates} "
               f"(CLIP_benchmark's recall@k); left out when there are no more than {k} {candidates}; {TIES}")
        for k in RECALL_KS
    )
    percents = tuple(
        Metric(f"top{p}%", f"{direction} top-{p}%",
               definition=f"fraction of {query}s with a true match within the top floor({p}% of the {candidates}) "
               f"(at least one) by similarity (PAPERCLIP's top-k% retrieval accuracy); {TIES}")
        for p in PERCENTS
    )
    return recalls + percents
