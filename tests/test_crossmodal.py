"""Zero-shot classification and cross-modal retrieval metrics, against scikit-learn and brute force (explicit
loops over small random cases, ties included)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score

from bench.api.task import UndefinedMetric
from bench.eval import crossmodal
from bench.eval.crossmodal import image_to_text, percent_cutoff, text_to_image, zeroshot_metrics


def brute_hit(scores: list[float], positive: list[bool], k: int) -> bool:
    """A query is a hit when fewer than k non-matches score at least as high as its best match."""
    best = max(s for s, p in zip(scores, positive, strict=True) if p)
    above = sum(1 for s, p in zip(scores, positive, strict=True) if not p and s >= best)
    return above < k


def brute_retrieval(scores: np.ndarray, positives: np.ndarray, ks: tuple[int, ...], percents: tuple[int, ...]):
    count = scores.shape[1]
    hits = {f"recall@{k}": k for k in ks if k < count}
    hits |= {f"top{p}%": max(1, math.floor(p / 100 * count + 1e-9)) for p in percents}
    return {name: float(np.mean([brute_hit(list(row), list(pos), k) for row, pos in zip(scores, positives,
                                                                                         strict=True)]))
            for name, k in hits.items()}


def tied(n: int, d: int, seed: int, levels: int) -> torch.Tensor:
    """Embeddings on a coarse grid, so that many dot products tie exactly."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(-levels, levels + 1, (n, d), generator=generator).float() / 4


@pytest.mark.parametrize("seed", range(4))
def test_zeroshot_matches_sklearn_without_ties(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(60, 7, generator=generator)
    labels = torch.randint(0, 7, (60,), generator=generator)
    found = zeroshot_metrics(scores, labels)
    y, s = labels.numpy(), scores.numpy()
    assert found["acc1"] == pytest.approx(top_k_accuracy_score(y, s, k=1, labels=range(7)), abs=1e-12)
    assert found["acc5"] == pytest.approx(top_k_accuracy_score(y, s, k=5, labels=range(7)), abs=1e-12)
    assert found["mean_per_class_recall"] == pytest.approx(balanced_accuracy_score(y, s.argmax(1)), abs=1e-12)


def test_zeroshot_counts_ties_against_the_true_class() -> None:
    scores = tied(50, 6, seed=3, levels=1)  # six classes, scores in {-1/4, 0, 1/4}: ties everywhere
    labels = torch.arange(50) % 6
    found = zeroshot_metrics(scores, labels)
    positives = F.one_hot(labels, 6).bool().numpy()
    hit1 = [brute_hit(list(row), list(pos), 1) for row, pos in zip(scores.numpy(), positives, strict=True)]
    hit5 = [brute_hit(list(row), list(pos), 5) for row, pos in zip(scores.numpy(), positives, strict=True)]
    assert found["acc1"] == pytest.approx(np.mean(hit1)) and found["acc5"] == pytest.approx(np.mean(hit5))
    recalls = [np.mean([h for h, c in zip(hit1, labels.tolist(), strict=True) if c == cls]) for cls in range(6)]
    assert found["mean_per_class_recall"] == pytest.approx(np.mean(recalls))
    assert 0 < found["acc1"] < 1
    # One tie with the true class is a miss, not a coin toss: a row of equal scores is a miss at top-1.
    assert zeroshot_metrics(torch.zeros(2, 3), torch.tensor([0, 2]))["acc1"] == 0.0


def test_zeroshot_reports_top5_only_with_more_than_five_classes() -> None:
    assert "acc5" not in zeroshot_metrics(torch.randn(10, 5), torch.arange(10) % 5)
    assert "acc5" in zeroshot_metrics(torch.randn(10, 6), torch.arange(10) % 6)


def test_mean_per_class_recall_averages_the_classes_present() -> None:
    scores = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0]])  # class 2 never true
    found = zeroshot_metrics(scores, torch.tensor([0, 0, 1, 1]))
    assert found["mean_per_class_recall"] == pytest.approx((1.0 + 0.5) / 2)
    assert found["mean_per_class_recall"] == pytest.approx(balanced_accuracy_score([0, 0, 1, 1], [0, 0, 0, 1]))


@pytest.mark.parametrize(("seed", "levels"), [(0, 1), (1, 2), (2, 100)])
def test_retrieval_matches_brute_force_with_shared_captions_and_ties(
    seed: int, levels: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crossmodal, "CHUNK", 4)  # queries scored a few rows at a time
    images, captions = tied(37, 3, seed, levels), tied(13, 3, seed + 10, levels)
    caption_of = torch.randint(0, 13, (37,), generator=torch.Generator().manual_seed(seed))
    caption_of[:13] = torch.arange(13)  # every caption has at least one image
    scores = (images @ captions.T).numpy()
    positives = (caption_of[:, None] == torch.arange(13)[None, :]).numpy()
    found = image_to_text(images, captions, caption_of)
    assert found == pytest.approx(brute_retrieval(scores, positives, (1, 5, 10), (1, 5, 10)), abs=1e-12)
    assert set(found) == {"recall@1", "recall@5", "recall@10", "top1%", "top5%", "top10%"}
    found = text_to_image(images, captions, caption_of)
    assert found == pytest.approx(brute_retrieval(scores.T, positives.T, (1, 5, 10), (1, 5, 10)), abs=1e-12)


def test_recall_equals_clip_benchmarks_with_one_caption_per_image() -> None:
    """With distinct captions and no ties, recall@k is CLIP_benchmark's: whether the true pair is in torch.topk."""
    generator = torch.Generator().manual_seed(5)
    images = F.normalize(torch.randn(30, 8, generator=generator), dim=1)
    order = torch.randperm(30, generator=generator)
    captions = F.normalize(images[order] + 0.8 * torch.randn(30, 8, generator=generator), dim=1)
    caption_of = torch.argsort(order)  # image i's caption is row caption_of[i]
    scores = images @ captions.T
    for k in (1, 5, 10):
        image_hits = (torch.topk(scores, k, dim=1).indices == caption_of[:, None]).any(dim=1)
        found = image_to_text(images, captions, caption_of)[f"recall@{k}"]
        assert found == pytest.approx(float(image_hits.float().mean()))
        text_hits = (torch.topk(scores.T, k, dim=1).indices == order[:, None]).any(dim=1)
        found = text_to_image(images, captions, caption_of)[f"recall@{k}"]
        assert found == pytest.approx(float(text_hits.float().mean()))


def test_top_percent_is_paperclips_rank_within_floor_of_k_percent() -> None:
    """PAPERCLIP: 1[rank(x_i . y_i among x_i . y_j) <= floor(k / 100 |V|)], rank 1-based by a descending sort."""
    generator = torch.Generator().manual_seed(7)
    images = F.normalize(torch.randn(250, 16, generator=generator), dim=1)
    captions = F.normalize(images + 1.5 * torch.randn(250, 16, generator=generator), dim=1)
    scores = images @ captions.T
    rank = (torch.argsort(scores, dim=1, descending=True) == torch.arange(250)[:, None]).float().argmax(dim=1) + 1
    found = image_to_text(images, captions, torch.arange(250))
    for percent in (1, 5, 10):
        assert found[f"top{percent}%"] == pytest.approx(float((rank <= math.floor(percent * 250 / 100)).float().mean()))
    assert [percent_cutoff(p, 250) for p in (1, 5, 10)] == [2, 12, 25]
    assert percent_cutoff(1, 40) == 1 and percent_cutoff(10, 9) == 1  # at least one candidate


def test_recall_at_k_is_left_out_where_every_query_would_hit() -> None:
    found = image_to_text(torch.eye(4), torch.eye(4)[:3], torch.tensor([0, 1, 2, 2]))
    assert "recall@1" in found and "recall@5" not in found and "recall@10" not in found
    with pytest.raises(UndefinedMetric, match="at least two candidates"):
        image_to_text(torch.eye(3), torch.eye(3)[:1], torch.zeros(3, dtype=torch.long))


def test_bad_scores_raise() -> None:
    with pytest.raises(ValueError, match="NaN"):
        zeroshot_metrics(torch.tensor([[float("nan"), 0.0]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="outside"):
        zeroshot_metrics(torch.zeros(2, 3), torch.tensor([0, 3]))
