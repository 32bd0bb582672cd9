"""The tasks score a model's test outputs; checked against scikit-learn and brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, average_precision_score, confusion_matrix, f1_score
from test_metrics import brute_force_map

from bench.api import registry
from bench.api.data import ArraySource, GalaxyData
from bench.api.errors import BenchError
from bench.api.task import ModelOutputs
from bench.eval.outputs import compute_outputs, evaluate, evaluate_subsets, thin_classes

NUM_CLASSES, N = 4, 40


class RecordingMethod:
    """Fixed random outputs; counts which of embed / predict were called."""

    name = "recording"

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.embeddings = F.normalize(torch.randn(N, 8, generator=generator), dim=1)
        self.scores = torch.randn(N, NUM_CLASSES, generator=generator)
        self.calls: list[str] = []

    def embed(self, data: GalaxyData) -> torch.Tensor:
        self.calls.append("embed")
        return self.embeddings

    def predict(self, data: GalaxyData) -> torch.Tensor:
        self.calls.append("predict")
        return self.scores


@pytest.fixture
def test_set() -> GalaxyData:
    labels = np.random.default_rng(1).integers(0, NUM_CLASSES, N)
    images = np.zeros((N, 4, 4, 3), np.uint8)
    return GalaxyData(ArraySource(images), labels, tuple("abcd"), "fake")


@pytest.mark.parametrize(
    ("tasks", "calls"), [(("classify",), ["predict"]), (("retrieve",), ["embed"]), (("classify", "retrieve"), None)]
)
def test_only_what_the_tasks_need_is_computed(test_set: GalaxyData, tasks: tuple[str, ...], calls: list[str] | None):
    method = RecordingMethod()
    outputs = compute_outputs(method, test_set, tasks)  # type: ignore[arg-type]
    assert sorted(method.calls) == sorted(calls or ["embed", "predict"])
    assert (outputs.scores is None) == ("classify" not in tasks)
    assert (outputs.embeddings is None) == ("retrieve" not in tasks)


def test_classify_matches_sklearn(test_set: GalaxyData) -> None:
    method = RecordingMethod()
    result = registry.task("classify").evaluate(compute_outputs(method, test_set, ["classify"]), test_set.labels)  # type: ignore[arg-type]
    predicted = method.scores.argmax(dim=1).numpy()
    assert result["accuracy"] == pytest.approx(accuracy_score(test_set.labels, predicted))
    classes = list(range(NUM_CLASSES))
    assert result["macro_f1"] == pytest.approx(
        f1_score(test_set.labels, predicted, average="macro", labels=classes, zero_division=0)
    )
    assert result["confusion_matrix"] == confusion_matrix(test_set.labels, predicted, labels=classes).tolist()


def test_retrieve_matches_sklearn_and_brute_force(test_set: GalaxyData) -> None:
    method = RecordingMethod()
    result = registry.task("retrieve").evaluate(compute_outputs(method, test_set, ["retrieve"]), test_set.labels)  # type: ignore[arg-type]
    similarity = (method.embeddings @ method.embeddings.T).numpy()
    full, at5, at5_tm = [], [], []
    for query in range(N):
        others = np.arange(N) != query
        relevant = test_set.labels[others] == test_set.labels[query]
        if not relevant.any():
            continue
        full.append(average_precision_score(relevant, similarity[query, others]))
        ranked = relevant[np.argsort(-similarity[query, others], kind="stable")]
        hits = np.cumsum(ranked)
        gains = sum(hits[i] / (i + 1) for i in range(5) if ranked[i])
        at5.append(gains / min(5, relevant.sum()))
        at5_tm.append(gains / hits[4] if hits[4] else 0.0)  # torchmetrics: over the relevant found
    assert result["map"] == pytest.approx(np.mean(full))
    assert result["map@5"] == pytest.approx(np.mean(at5))
    assert result["map@5_tm"] == pytest.approx(np.mean(at5_tm))
    assert set(registry.task("retrieve").metric_names) <= set(result)


@pytest.mark.parametrize("name", ["classify", "retrieve"])
def test_every_metric_says_in_one_line_what_it_computes(name: str) -> None:
    for metric in registry.task(name).metrics:
        assert metric.definition and "\n" not in metric.definition, metric.name


def test_a_task_without_its_outputs_says_which_are_missing(test_set: GalaxyData) -> None:
    with pytest.raises(ValueError, match="no embeddings"):
        registry.task("retrieve").evaluate(ModelOutputs(scores=torch.zeros(N, NUM_CLASSES)), test_set.labels)


def test_subset_metrics_come_from_the_subsets_rows_of_the_same_outputs(test_set: GalaxyData) -> None:
    method = RecordingMethod()
    outputs = compute_outputs(method, test_set, ["classify", "retrieve"])  # type: ignore[arg-type]
    rows = np.array([31, 2, 5, 17, 8, 0, 22, 39, 11, 26, 14, 35])  # any order
    found = evaluate_subsets(outputs, test_set.labels, ["classify", "retrieve"], {"some": rows, "all": np.arange(N)})
    assert method.calls == ["embed", "predict"]  # no second pass
    assert found["all"] == evaluate(outputs, test_set.labels, ["classify", "retrieve"])
    labels, predicted = test_set.labels[rows], method.scores.argmax(dim=1).numpy()[rows]
    assert not found["some"].undefined
    some = found["some"].metrics
    assert some["classify"]["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert some["classify"]["macro_f1"] == pytest.approx(
        f1_score(labels, predicted, average="macro", labels=range(NUM_CLASSES), zero_division=0))
    reference = brute_force_map(method.embeddings[rows], torch.as_tensor(labels), [5, None])
    assert some["retrieve"]["map@5"] == pytest.approx(reference["map@5"])
    assert some["retrieve"]["map"] == pytest.approx(reference["map"])
    assert evaluate_subsets(outputs, test_set.labels, ["classify"], {}) == {}


def test_a_task_the_data_cannot_define_is_recorded_and_the_others_kept(test_set: GalaxyData) -> None:
    """One test image per class: retrieval mAP is undefined, classification is not lost."""
    method = RecordingMethod()
    outputs = compute_outputs(method, test_set, ["classify", "retrieve"])  # type: ignore[arg-type]
    one_each = np.array([int(np.flatnonzero(test_set.labels == c)[0]) for c in range(NUM_CLASSES)])
    found = evaluate(outputs.rows(one_each), test_set.labels[one_each], ["classify", "retrieve"])
    assert set(found.metrics) == {"classify"} and "retrieval mAP is undefined" in found.undefined["retrieve"]
    warnings = thin_classes(test_set.labels[one_each], test_set.class_names, ["classify", "retrieve"])
    assert len(warnings) == 1 and warnings[0].startswith("retrieve: the test split has fewer than 2 images of")


def test_nan_outputs_of_a_diverged_model_are_one_line_naming_the_fix(test_set: GalaxyData) -> None:
    method = RecordingMethod()
    method.embeddings[3, 0] = float("nan")
    with pytest.raises(BenchError, match=r"recording gives NaN or infinite embeddings .* Fix: lower the learning rate"):
        compute_outputs(method, test_set, ["retrieve"])  # type: ignore[arg-type]
    assert compute_outputs(method, test_set, ["classify"]).scores is not None  # type: ignore[arg-type]
