"""Metrics against scikit-learn and against plain-Python references that follow the docstrings."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import sklearn.metrics as skm
import torch
import torch.nn.functional as F

from bench.eval.metrics import accuracy, confusion_matrix, macro_f1, retrieval_map

# ---------------------------------------------------------------- classification


def _label_cases() -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    rng = np.random.default_rng(0)
    true = rng.integers(0, 5, 200)
    noisy = np.where(rng.random(200) < 0.6, true, rng.integers(0, 5, 200))
    return [
        ("random", true, rng.integers(0, 5, 200), 5),
        ("mostly_right", true, noisy, 5),
        ("class_absent_everywhere", np.array([0, 1, 3, 3, 0]), np.array([0, 3, 3, 1, 1]), 5),
        ("class_only_predicted", np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1]), 3),
        ("class_only_true", np.array([0, 2, 1, 1]), np.array([0, 0, 1, 1]), 3),
        ("all_one_prediction", true, np.full(200, 2), 5),
        ("single_sample_right", np.array([1]), np.array([1]), 3),
        ("single_sample_wrong", np.array([1]), np.array([2]), 3),
        ("perfect", true, true.copy(), 5),
    ]


LABEL_CASES = _label_cases()
LABEL_IDS = [case[0] for case in LABEL_CASES]


@pytest.mark.parametrize(("name", "y_true", "y_pred", "num_classes"), LABEL_CASES, ids=LABEL_IDS)
def test_accuracy_matches_sklearn(name, y_true, y_pred, num_classes):
    expected = skm.accuracy_score(y_true, y_pred)
    assert accuracy(y_true, y_pred) == pytest.approx(expected, abs=1e-12)
    assert accuracy(torch.from_numpy(y_true), torch.from_numpy(y_pred)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("name", "y_true", "y_pred", "num_classes"), LABEL_CASES, ids=LABEL_IDS)
def test_macro_f1_matches_sklearn(name, y_true, y_pred, num_classes):
    fixed = skm.f1_score(y_true, y_pred, average="macro", labels=range(num_classes), zero_division=0)
    observed = skm.f1_score(y_true, y_pred, average="macro", zero_division=0)
    assert macro_f1(y_true, y_pred, num_classes) == pytest.approx(fixed, abs=1e-12)
    assert macro_f1(torch.from_numpy(y_true), torch.from_numpy(y_pred), num_classes) == pytest.approx(
        fixed, abs=1e-12
    )
    assert macro_f1(y_true, y_pred) == pytest.approx(observed, abs=1e-12)


def test_macro_f1_counts_an_absent_class_as_zero():
    y = np.array([0, 1, 0, 1])
    assert macro_f1(y, y, num_classes=2) == 1.0
    assert macro_f1(y, y, num_classes=4) == 0.5


def test_macro_f1_without_num_classes_uses_observed_labels():
    assert macro_f1(np.array([3, 7, 7]), np.array([3, 7, 3])) == pytest.approx(
        skm.f1_score([3, 7, 7], [3, 7, 3], average="macro", zero_division=0)
    )


@pytest.mark.parametrize(("name", "y_true", "y_pred", "num_classes"), LABEL_CASES, ids=LABEL_IDS)
def test_confusion_matrix_matches_sklearn(name, y_true, y_pred, num_classes):
    expected = skm.confusion_matrix(y_true, y_pred, labels=range(num_classes))
    result = confusion_matrix(torch.from_numpy(y_true), y_pred, num_classes)
    assert result.dtype == np.int64
    np.testing.assert_array_equal(result, expected)


def test_confusion_matrix_rows_are_true_classes():
    result = confusion_matrix(np.array([0, 0, 0]), np.array([1, 1, 2]), 3)
    np.testing.assert_array_equal(result, [[0, 2, 1], [0, 0, 0], [0, 0, 0]])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: accuracy(np.array([0, 1]), np.array([0])), "differ in length"),
        (lambda: accuracy(np.array([], dtype=int), np.array([], dtype=int)), "empty"),
        (lambda: accuracy(np.zeros((2, 2)), np.zeros((2, 2))), "1-D"),
        (lambda: macro_f1(np.array([0, 3]), np.array([0, 1]), num_classes=3), "outside"),
        (lambda: confusion_matrix(np.array([0, -1]), np.array([0, 1]), 2), "outside"),
        (lambda: confusion_matrix(np.array([0.0, 1.0]), np.array([0, 1]), 2), "integer"),
        (lambda: confusion_matrix(np.array([0]), np.array([0]), 0), "at least 1"),
    ],
)
def test_classification_input_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- retrieval


def _scores(embeddings: torch.Tensor) -> np.ndarray:
    """Similarities computed as the function does: normalised float32 embeddings, one matmul."""
    normed = F.normalize(embeddings.float(), dim=1)
    return (normed @ normed.T).numpy()


def sklearn_map(embeddings: torch.Tensor, labels: torch.Tensor) -> tuple[float, int]:
    scores, labels_np = _scores(embeddings), labels.numpy()
    n = len(labels_np)
    aps = []
    for q in range(n):
        others = np.arange(n) != q
        relevance = labels_np[others] == labels_np[q]
        if relevance.any():
            aps.append(skm.average_precision_score(relevance, scores[q, others]))
    return float(np.mean(aps)), len(aps)


def _tie_precision(row: list[float], others: list[int], relevant: set[int], j: int) -> float:
    """#relevant items with score >= s_j over #items with score >= s_j."""
    at_least = [i for i in others if row[i] >= row[j]]
    return sum(i in relevant for i in at_least) / len(at_least)


def brute_force_map(embeddings: torch.Tensor, labels: torch.Tensor, ks: list[int | None]) -> dict[str, float]:
    """The docstring definitions, literally: stable ranking, counted tie-group precision, 1 / min(k, R)."""
    scores = _scores(embeddings).tolist()
    labels_list = labels.tolist()
    n = len(labels_list)
    sums = dict.fromkeys(ks, 0.0)
    count = 0
    for q in range(n):
        others = [j for j in range(n) if j != q]
        relevant = {j for j in others if labels_list[j] == labels_list[q]}
        if not relevant:
            continue
        count += 1
        ranked = [j for _, j in sorted((-scores[q][j], j) for j in others)]
        for k in ks:
            top = ranked if k is None else ranked[:k]
            denominator = len(relevant) if k is None else min(k, len(relevant))
            gains = [_tie_precision(scores[q], others, relevant, j) for j in top if j in relevant]
            sums[k] += sum(gains) / denominator
    result = {("map" if k is None else f"map@{k}"): total / count for k, total in sums.items()}
    result["queries"] = float(count)
    return result


def _random(n: int, dim: int, num_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(n, dim, generator=generator)
    return embeddings, torch.randint(0, num_classes, (n,), generator=generator)


def _tied(n: int, num_patterns: int, num_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows drawn from a few +-1 vectors of length 16: norm 4, so every score is exact and ties are real."""
    generator = torch.Generator().manual_seed(seed)
    patterns = torch.randint(0, 2, (num_patterns, 16), generator=generator).float() * 2 - 1
    rows = torch.randint(0, num_patterns, (n,), generator=generator)
    return patterns[rows], torch.randint(0, num_classes, (n,), generator=generator)


def _one_hot(n: int, dim: int, num_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    embeddings = F.one_hot(torch.randint(0, dim, (n,), generator=generator), dim).float()
    return embeddings, torch.randint(0, num_classes, (n,), generator=generator)


def _singleton_class(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 9 has one member, so its query has no relevant item and must be left out."""
    embeddings, labels = _tied(n, 4, 3, seed)
    labels[5] = 9
    return embeddings, labels


RETRIEVAL_CASES = {
    "random": lambda: _random(50, 8, 4, 0),
    "random_many_classes": lambda: _random(45, 3, 12, 1),
    "ties_few_patterns": lambda: _tied(48, 3, 3, 2),
    "ties_many_patterns": lambda: _tied(40, 8, 2, 3),
    "one_hot": lambda: _one_hot(40, 5, 3, 4),
    "singleton_class": lambda: _singleton_class(30, 5),
    "two_items": lambda: (torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([4, 4])),
}


@pytest.fixture(params=["count", "sort"])
def kernel(request):
    """Both ranking kernels of retrieval_map run on the CPU and must agree with the references."""
    return request.param


@pytest.mark.parametrize("case", RETRIEVAL_CASES)
def test_full_map_matches_sklearn(case, kernel):
    embeddings, labels = RETRIEVAL_CASES[case]()
    expected, queries = sklearn_map(embeddings, labels)
    result = retrieval_map(embeddings, labels, kernel=kernel, ks=(None,), chunk_size=len(labels))
    assert result["map"] == pytest.approx(expected, abs=1e-12)
    assert result["queries"] == queries


@pytest.mark.parametrize("case", RETRIEVAL_CASES)
@pytest.mark.parametrize("chunk_size", [1, 7, 1024])
def test_map_and_map_at_k_match_brute_force(case, chunk_size, kernel):
    embeddings, labels = RETRIEVAL_CASES[case]()
    n = len(labels)
    ks = [*sorted({1, 2, 3, 5, 10, max(n - 2, 1), n - 1, n + 5}), None]
    expected = brute_force_map(embeddings, labels, ks)
    result = retrieval_map(embeddings, labels, kernel=kernel, ks=ks, chunk_size=chunk_size)
    assert result.keys() == expected.keys()
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key


def test_hand_computed_example(kernel):
    # Query 0 ranks 1 (relevant) and 2 (not) tied at score 1, then 3 (relevant) and 4 (not) tied at
    # score 0: both relevant items get precision 1/2 and 2/4, so AP = 0.5, AP@1 = 0.5, AP@2 = 0.25.
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 0, 1])
    result = retrieval_map(embeddings, labels, kernel=kernel, ks=(1, 2, None))
    assert result == pytest.approx({"map@1": 0.2, "map@2": 0.15, "map": 0.4, "queries": 5.0}, abs=1e-12)


def test_ties_straddling_k_are_cut_by_index(kernel):
    # All scores tie, so every relevant item has precision R / 4 and the top k are the k lowest
    # other indices. Per query (0..4): AP = 1/4, 1/4, 1/2, 1/2, 1/2; AP@2 = 0, 1/4, 1/4, 1/4, 1/4
    # (query 0's only relevant item, 3, is cut; query 3's, 0, is not); AP@3 = 1/4, 1/4, 1/4, 1/4, 1/2.
    embeddings = torch.ones(5, 2)
    labels = torch.tensor([0, 1, 1, 0, 1])
    result = retrieval_map(embeddings, labels, kernel=kernel, ks=(2, 3, None))
    assert result == pytest.approx({"map@2": 0.2, "map@3": 0.3, "map": 0.4, "queries": 5.0}, abs=1e-12)


@pytest.mark.parametrize("case", ["random", "ties_few_patterns", "singleton_class"])
def test_result_does_not_depend_on_chunk_size(case, kernel):
    embeddings, labels = RETRIEVAL_CASES[case]()
    results = [
        retrieval_map(embeddings, labels, kernel=kernel, ks=(1, 4, None), chunk_size=c) for c in (1, 3, 11, 1000)
    ]
    for other in results[1:]:
        assert other == pytest.approx(results[0], abs=1e-9)


def test_k_at_least_n_minus_one_equals_full_map(kernel):
    embeddings, labels = RETRIEVAL_CASES["ties_few_patterns"]()
    n = len(labels)
    result = retrieval_map(embeddings, labels, kernel=kernel, ks=(n - 1, n, 10 * n, None))
    assert result[f"map@{n - 1}"] == result[f"map@{n}"] == result[f"map@{10 * n}"] == result["map"]


def test_k_above_relevant_count_divides_by_relevant_count(kernel):
    # Every query has exactly one relevant item, ranked first: AP@k = 1 for every k, not 1 / k.
    embeddings = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    result = retrieval_map(embeddings, labels, kernel=kernel, ks=(1, 2, 3, None))
    assert result == pytest.approx({"map@1": 1.0, "map@2": 1.0, "map@3": 1.0, "map": 1.0, "queries": 4.0})


def test_unnormalised_input_is_normalised():
    embeddings, labels = RETRIEVAL_CASES["random"]()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    scales = torch.logspace(-3, 3, len(labels))[order]
    scaled = embeddings * scales[:, None]
    result = retrieval_map(scaled, labels, ks=(3, None), chunk_size=len(labels))
    assert result["map"] == pytest.approx(sklearn_map(scaled, labels)[0], abs=1e-12)
    assert result == pytest.approx(retrieval_map(embeddings, labels, ks=(3, None)), abs=1e-9)
    # Powers of two rescale exactly, so with exact ties the results must be identical.
    tied, tied_labels = RETRIEVAL_CASES["ties_few_patterns"]()
    powers = 2.0 ** torch.randint(-8, 8, (len(tied_labels),), generator=torch.Generator().manual_seed(1))
    assert retrieval_map(tied * powers[:, None], tied_labels) == retrieval_map(tied, tied_labels)


def test_default_keys_and_float64_inputs():
    embeddings, labels = RETRIEVAL_CASES["random"]()
    result = retrieval_map(embeddings.double(), labels)
    assert list(result) == ["map@5", "map", "queries"]
    assert result == pytest.approx(brute_force_map(embeddings, labels, [5, None]), abs=1e-12)


def test_repeated_k_and_embeddings_requiring_grad():
    embeddings, labels = RETRIEVAL_CASES["ties_few_patterns"]()
    expected = retrieval_map(embeddings, labels, ks=(3,))
    assert retrieval_map(embeddings.requires_grad_(), labels.numpy(), ks=(3, 3)) == expected


def test_map_is_one_for_perfectly_separated_classes():
    embeddings = torch.tensor([[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 4)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    assert retrieval_map(embeddings, labels, ks=(1, 5, None)) == {
        "map@1": 1.0,
        "map@5": 1.0,
        "map": 1.0,
        "queries": 7.0,
    }


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    embeddings, labels = RETRIEVAL_CASES["ties_few_patterns"]()
    cpu = retrieval_map(embeddings, labels, ks=(1, 5, None), chunk_size=7)
    cuda = retrieval_map(embeddings.cuda(), labels.cuda(), ks=(1, 5, None), chunk_size=7)
    assert cuda == pytest.approx(cpu, abs=1e-12)


@pytest.mark.parametrize(
    ("embeddings", "labels", "kwargs", "message"),
    [
        (torch.eye(3), torch.tensor([0, 1, 2]), {}, "no query has another embedding of its class"),
        (torch.ones(1, 3), torch.tensor([0]), {}, "at least two embeddings"),
        (torch.ones(3), torch.tensor([0, 0, 0]), {}, "2-D"),
        (torch.ones(3, 2), torch.tensor([0, 0]), {}, "labels must have shape"),
        (torch.tensor([[1.0, float("nan")], [1.0, 0.0]]), torch.tensor([0, 0]), {}, "NaN"),
        (torch.ones(3, 2), torch.tensor([0, 0, 0]), {"ks": (0,)}, "positive"),
        (torch.ones(3, 2), torch.tensor([0, 0, 0]), {"chunk_size": 0}, "chunk_size"),
    ],
)
def test_retrieval_input_errors(embeddings, labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        retrieval_map(embeddings, labels, **kwargs)


def test_counting_kernel_with_skewed_scores_matches_sklearn():
    # A few near-copies of each query's class sit far above the rest, so the equal-width buckets
    # over the relevant scores are coarse where most scores are: long scans must stay exact.
    generator = torch.Generator().manual_seed(3)
    base = torch.randn(4, 32, generator=generator)
    labels = torch.arange(300) % 4
    embeddings = base[labels] * 0.02 + torch.randn(300, 32, generator=generator)
    embeddings[:8] = base[labels[:8]] + 1e-4 * torch.randn(8, 32, generator=generator)
    expected, _ = sklearn_map(embeddings, labels)
    assert retrieval_map(embeddings, labels, ks=(None,), kernel="count")["map"] == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------- torchmetrics' AP@k convention ("map@k_tm")


def torchmetrics_map(embeddings: torch.Tensor, labels: torch.Tensor, k: int, raw_scores: bool = False) -> float:
    """torchmetrics' own RetrievalMAP(top_k=k) over every query against the others (the query left
    out), queries without a relevant item skipped. torchmetrics orders tied scores as torch.topk
    returns them (no fixed order) and counts items scoring <= 0 as irrelevant, so it is given, per
    query, our ranking as scores: N - 1 down to 1 along descending score, ties by ascending index.
    ``raw_scores``: the similarities plus 2 instead (the same order where no scores tie)."""
    from torchmetrics.retrieval import RetrievalMAP

    scores, labels_list = _scores(embeddings).astype(np.float64), labels.tolist()
    n = len(labels_list)
    preds: list[float] = []
    target: list[bool] = []
    indexes: list[int] = []
    for q in range(n):
        others = [j for j in range(n) if j != q]
        ranked = sorted(others, key=lambda j: (-scores[q, j], j))
        rank_score = {j: float(n - 1 - rank) for rank, j in enumerate(ranked)}
        preds += [scores[q, j] + 2.0 if raw_scores else rank_score[j] for j in others]
        target += [labels_list[j] == labels_list[q] for j in others]
        indexes += [q] * len(others)
    metric = RetrievalMAP(top_k=k, empty_target_action="skip")
    return float(metric(torch.tensor(preds, dtype=torch.float64), torch.tensor(target), torch.tensor(indexes)))


def _far_relevant() -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0's two members sit in two different clusters of six class-1 items each, so each one's
    top 5 holds no relevant item; class 2 has two members, class 3 one."""
    generator = torch.Generator().manual_seed(6)
    centres = torch.eye(4)[:2] * 5
    cluster = torch.arange(12) // 6
    embeddings = torch.cat([centres, centres[cluster] + 0.1 * torch.randn(12, 4, generator=generator),
                            torch.randn(3, 4, generator=generator)])
    return embeddings, torch.tensor([0, 0] + [1] * 12 + [2, 2, 3])


def _class_of_two(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    embeddings, labels = _random(30, 4, 3, seed)
    labels[labels == 2] = 0
    labels[[3, 17]] = 2
    return embeddings, labels


TM_CASES = {
    **RETRIEVAL_CASES,
    "far_relevant": _far_relevant,
    "class_of_two": lambda: _class_of_two(7),
    "all_same_scores": lambda: (torch.ones(12, 3), torch.tensor([0, 1, 2, 0, 1, 1, 0, 2, 2, 1, 3, 0])),
}


@pytest.mark.parametrize("case", TM_CASES)
def test_map_at_k_tm_matches_torchmetrics(case, kernel):
    embeddings, labels = TM_CASES[case]()
    n = len(labels)
    tm_ks = sorted({1, 2, 3, 5, max(n - 2, 1), n - 1, n + 5})
    result = retrieval_map(embeddings, labels, kernel=kernel, tm_ks=tm_ks, chunk_size=7)
    for k in tm_ks:
        # torchmetrics' per-query AP is float32
        assert result[f"map@{k}_tm"] == pytest.approx(torchmetrics_map(embeddings, labels, k), abs=1e-6), k


def test_map_at_k_tm_matches_torchmetrics_on_raw_scores(kernel):
    """Where no scores tie, torchmetrics ranks the similarities themselves as we do."""
    embeddings, labels = RETRIEVAL_CASES["random"]()
    result = retrieval_map(embeddings, labels, kernel=kernel, tm_ks=(5,))
    assert result["map@5_tm"] == pytest.approx(torchmetrics_map(embeddings, labels, 5, raw_scores=True), abs=1e-6)


def test_adversarial_cases_are_what_they_claim():
    scores = _scores(_far_relevant()[0])
    top5 = np.argsort(-np.where(np.eye(len(scores), dtype=bool), -np.inf, scores), axis=1, kind="stable")[:, :5]
    assert (_far_relevant()[1][top5[:2]] == 1).all()  # class 0's queries find no relevant item in their top 5
    assert (_class_of_two(7)[1] == 2).sum() == 2
    assert (TM_CASES["ties_few_patterns"]()[0].unique(dim=0)).shape[0] == 3


@pytest.mark.parametrize("case", ["random", "ties_few_patterns", "far_relevant", "singleton_class"])
def test_tm_ks_leave_the_other_metrics_unchanged(case, kernel):
    embeddings, labels = TM_CASES[case]()
    plain = retrieval_map(embeddings, labels, kernel=kernel, ks=(1, 5, None))
    both = retrieval_map(embeddings, labels, kernel=kernel, ks=(1, 5, None), tm_ks=(5, 2))
    assert list(both) == ["map@1", "map@5", "map", "map@5_tm", "map@2_tm", "queries"]
    assert {key: both[key] for key in plain} == plain


def test_map_at_k_tm_divides_by_the_relevant_items_found():
    # Points on a circle. Class 0 (R = 3 each) is two pairs at opposite ends; four single-member
    # classes (skipped queries) sit between. Every class-0 query ranks its partner first and then
    # four others, the far pair beyond its top 5: map@5 = 1 / min(5, 3), torchmetrics' = 1 / 1.
    degrees = torch.tensor([0.0, 1.0, 10.0, 20.0, 30.0, 170.0, 175.0, 40.0])
    embeddings = torch.stack([torch.cos(torch.deg2rad(degrees)), torch.sin(torch.deg2rad(degrees))], dim=1)
    labels = torch.tensor([0, 0, 1, 2, 3, 0, 0, 4])
    result = retrieval_map(embeddings, labels, ks=(5,), tm_ks=(5,))
    assert result == pytest.approx({"map@5": 1 / 3, "map@5_tm": 1.0, "queries": 4.0}, abs=1e-12)


def test_tm_ks_must_be_positive():
    with pytest.raises(ValueError, match="tm_ks must be a positive int"):
        retrieval_map(torch.ones(3, 2), torch.tensor([0, 0, 0]), tm_ks=(0,))



def test_the_ranking_kernel_leaves_torchs_thread_count_as_it_found_it(subprocess_env: dict[str, str]) -> None:
    """numba's OpenMP layer sets the count it shares with torch to every core when it starts: in a fresh
    process (the layer starts once per process), as a local worker given one core is."""
    script = ("import torch; from bench.eval.metrics import retrieval_map; "
              "retrieval_map(torch.randn(20, 4), torch.randint(0, 3, (20,)), kernel='count'); "
              "print(torch.get_num_threads())")
    env = {**subprocess_env, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr
