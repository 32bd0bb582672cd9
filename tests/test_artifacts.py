"""Per-run test outputs: saved atomically beside the record, read back unchanged, consistent with the metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score

from bench.api.spec import RunSpec
from bench.api.task import ModelOutputs
from bench.run import artifacts
from bench.run.artifacts import RunArtifacts, artifacts_of, from_outputs, load_artifacts, save_artifacts
from bench.run.record import RunRecord
from bench.run.runner import Runner, RunSettings


def outputs(n: int = 12) -> ModelOutputs:
    generator = torch.Generator().manual_seed(0)
    embeddings = F.normalize(torch.randn(n, 6, generator=generator), dim=1)
    return ModelOutputs(embeddings, torch.randn(n, 3, generator=generator))


def test_round_trip(tmp_path: Path) -> None:
    labels = np.arange(12) % 3
    saved = from_outputs(outputs(), labels)
    path = save_artifacts(tmp_path / "deep" / "run.npz", saved)
    loaded = load_artifacts(path)
    assert loaded.embeddings is not None and loaded.embeddings.dtype == np.float16
    np.testing.assert_allclose(loaded.embeddings, outputs().embeddings.numpy(), atol=1e-3)
    np.testing.assert_array_equal(loaded.predicted, outputs().scores.argmax(dim=1).numpy())  # type: ignore[union-attr]
    np.testing.assert_array_equal(loaded.labels, labels)
    np.testing.assert_array_equal(loaded.indices, np.arange(12))
    assert [p.name for p in tmp_path.glob("deep/*")] == ["run.npz"]  # no temp file left


def test_missing_outputs_stay_missing(tmp_path: Path) -> None:
    only_scores = ModelOutputs(scores=outputs().scores)
    loaded = load_artifacts(save_artifacts(tmp_path / "run.npz", from_outputs(only_scores, np.zeros(12, int))))
    assert loaded.embeddings is None and loaded.predicted is not None


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_artifacts(tmp_path / "run.npz", from_outputs(outputs(), np.zeros(12, int)))
    before = path.read_bytes()

    def dies_half_way(file: object, **arrays: np.ndarray) -> None:
        file.write(b"half an npz")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr(artifacts.np, "savez", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_artifacts(path, RunArtifacts(indices=np.arange(2), labels=np.zeros(2, int)))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]


@pytest.mark.slow
def test_the_runner_saves_artifacts_that_reproduce_the_metrics(tmp_path: Path, plugin_methods: None) -> None:
    spec = RunSpec("tiny-convnet", "demo:20")
    [run] = Runner(RunSettings(results=tmp_path)).run([spec])
    record = run.to_dict()
    assert record["status"] == "ok", record.get("error")
    assert record["artifacts"] == f"{spec.run_id}.npz"
    assert json.loads(next(tmp_path.glob("*/*/*.json")).read_text())["artifacts"] == record["artifacts"]
    saved = artifacts_of(run, tmp_path)
    assert saved is not None and saved.predicted is not None and saved.embeddings is not None
    assert len(saved.labels) == record["data"]["test"] and saved.embeddings.shape[0] == len(saved.labels)
    np.testing.assert_array_equal(saved.indices, np.arange(record["data"]["test"]))
    classify = record["metrics"]["classify"]
    assert classify["accuracy"] == pytest.approx(accuracy_score(saved.labels, saved.predicted))
    assert classify["macro_f1"] == pytest.approx(
        f1_score(saved.labels, saved.predicted, average="macro", labels=range(10), zero_division=0)
    )
    norms = np.linalg.norm(saved.embeddings.astype(np.float32), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=2e-3)


def test_a_record_without_artifacts_has_none(tmp_path: Path) -> None:
    spec = RunSpec("resnet18", "demo")
    record = RunRecord(run_id=spec.run_id, spec=spec, status="failed", artifacts="gone.npz")
    assert artifacts_of(record, tmp_path) is None
    assert artifacts_of(RunRecord(run_id=spec.run_id, spec=record.spec, status="failed"), tmp_path) is None
