import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import sklearn.metrics as skm
import torch
from test_metrics import brute_force_map

from bench.api.data import DataOptions
from bench.api.spec import RunSpec
from bench.api.task import ModelOutputs
from bench.data import galaxy_mnist
from bench.run import runner as runner_module
from bench.run.artifacts import load_artifacts
from bench.run.runner import Runner, RunSettings
from bench.run.store import ResultStore

FAST = (("epochs", 1),)


def spec(method: str = "resnet18", seed: int = 0, **fields: object) -> RunSpec:
    fields.setdefault("overrides", FAST)
    return RunSpec(method=method, dataset="demo:20", seed=seed, **fields)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_run_writes_a_complete_record(tmp_path: Path) -> None:
    [record] = [run.to_dict() for run in Runner(RunSettings(results=tmp_path)).run([spec()])]
    assert record["status"] == "ok", record.get("error")
    assert set(record["metrics"]) == {"classify", "retrieve"}
    assert 0.0 <= record["metrics"]["classify"]["accuracy"] <= 1.0
    assert 0.0 <= record["metrics"]["retrieve"]["map@5"] <= 1.0
    assert record["weights"] == {"init": "random", "source": None, "path": None, "identifier": None}
    assert record["config"]["epochs"] == 1 and record["spec"]["overrides"] == {"epochs": 1}
    assert record["environment"]["packages"]["torch"] and record["environment"]["git_sha"]
    assert record["train_images_per_s"] > 0 and record["peak_memory_mb"] > 0
    saved = json.loads(ResultStore(tmp_path).path_for(spec()).read_text())
    assert saved["metrics"] == record["metrics"]


@pytest.mark.slow
def test_a_task_the_test_split_cannot_define_keeps_the_run_and_its_other_tasks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """demo:6 leaves one test image per class: retrieval is undefined, classification is recorded."""
    one_each = RunSpec("resnet18", "demo:6", overrides=FAST)
    [record] = Runner(RunSettings(results=tmp_path)).run([one_each])
    assert record.status == "ok", record.error
    assert set(record.metrics) == {"classify"} and 0.0 <= record.metrics["classify"]["accuracy"] <= 1.0
    assert "retrieval mAP is undefined" in record.undefined_tasks["retrieve"]
    assert "retrieve: the test split has fewer than 2 images of" in capsys.readouterr().err  # warned first
    from bench.report import leaderboard_markdown

    board = leaderboard_markdown([record])
    assert "## Tasks the test data could not define" in board and "## Failed runs" not in board


@pytest.mark.slow
def test_finished_runs_are_skipped(tmp_path: Path) -> None:
    runner = Runner(RunSettings(results=tmp_path))
    runner.run([spec()])
    path = ResultStore(tmp_path).path_for(spec())
    before = path.read_bytes()
    assert runner.run([spec()]) == []
    assert path.read_bytes() == before
    assert runner.run([spec(tasks=("classify",))]) == []  # one trained model serves both tasks
    assert not ResultStore(tmp_path).is_done(spec(overrides=(("epochs", 2),)))  # other settings: not done


@pytest.mark.slow
def test_a_failed_cell_is_recorded_and_the_grid_goes_on(tmp_path: Path, plugin_methods: None) -> None:
    records = [run.to_dict() for run in Runner(RunSettings(results=tmp_path / "results")).run(
        [spec("exploding-net"), spec("resnet18", variant="nope"), spec("tiny-convnet")]
    )]
    assert [r["status"] for r in records] == ["failed", "failed", "ok"]
    assert "training loss became nan" in records[0]["error"] and "Fix:" in records[0]["error"]
    assert "no variant 'nope'" in records[1]["error"]
    store = ResultStore(tmp_path / "results")
    assert not store.is_done(spec("exploding-net"))  # failed cells are retried on the next run


def test_a_missing_dataset_fails_its_cells_with_the_fix(tmp_path: Path) -> None:
    [run] = Runner(RunSettings(results=tmp_path)).run([RunSpec("resnet18", "galaxy10_decals", overrides=FAST)])
    record = run.to_dict()
    assert record["status"] == "failed"
    assert "BENCH_DATA_DIR" in record["error"]


@pytest.mark.slow
def test_sigkill_mid_grid_then_rerun_finishes_without_redoing(tmp_path: Path) -> None:
    results = tmp_path / "results"
    command = [
        sys.executable, "-m", "bench.cli", "run", "--methods", "resnet18", "--datasets", "demo:20",
        "--seeds", "0,1,2,3,4,5", "--epochs", "1", "--device", "cpu", "--results", str(results),
    ]
    env = {**os.environ, "BENCH_NO_PROGRESS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not list(results.glob("*/*/*.json")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    first = {p: p.read_bytes() for p in results.glob("*/*/*.json")}
    assert 1 <= len(first) < 6, "the kill should land mid-grid"
    for content in first.values():
        json.loads(content)  # no record is half-written
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    final = {p: p.read_bytes() for p in results.glob("*/*/*.json")}
    assert len(final) == 6
    assert all(final[p] == content for p, content in first.items())  # finished cells were not redone
    assert all(json.loads(c)["status"] == "ok" for c in final.values())


def write_galaxy_mnist_224(folder: Path, copies: dict[int, int]) -> np.ndarray:
    """Small 224 px GalaxyMNIST files (60 train, 40 test images of random 8 x 8 colour blocks, labels 0-3),
    test image t a copy of train image ``copies[t]``; returns the test labels."""
    blocks = np.random.default_rng(0).integers(0, 256, (100, 8, 8, 3), dtype=np.uint8)
    images = np.repeat(np.repeat(blocks, 28, axis=1), 28, axis=2)
    train, test = images[:60], images[60:].copy()
    for copy, original in copies.items():
        test[copy] = train[original]
    folder.mkdir(parents=True)
    labels = {galaxy_mnist.TRAIN_FILE: np.arange(60) % 4, galaxy_mnist.TEST_FILE: np.arange(40) % 4}
    for name, part in ((galaxy_mnist.TRAIN_FILE, train), (galaxy_mnist.TEST_FILE, test)):
        with h5py.File(folder / name, "w") as file:
            file["images"], file["labels"] = part, labels[name]
    return labels[galaxy_mnist.TEST_FILE]


@pytest.mark.slow
def test_a_run_records_each_task_on_the_test_images_that_duplicate_no_training_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    labels = write_galaxy_mnist_224(data_dir / "galaxy_mnist_224", copies={2: 0, 7: 5, 11: 9})
    computed: list[ModelOutputs] = []

    def spy(*args: object) -> ModelOutputs:
        computed.append(real(*args))  # type: ignore[arg-type]
        return computed[-1]

    real = runner_module.compute_outputs
    monkeypatch.setattr(runner_module, "compute_outputs", spy)
    run = RunSpec("resnet18", "galaxy_mnist_224", overrides=FAST)
    settings = RunSettings(results=tmp_path / "results", data=DataOptions(data_dir=str(data_dir)))
    [record] = Runner(settings).run([run])
    assert record.status == "ok", record.error
    [outputs] = computed  # one forward pass serves the whole test set and its subset
    kept = np.setdiff1d(np.arange(40), [2, 7, 11])
    assert outputs.scores is not None and outputs.embeddings is not None
    predicted = outputs.scores.argmax(dim=1).numpy()[kept]
    subset = record.subset_metrics["no_train_duplicates"]
    assert subset["classify"]["accuracy"] == pytest.approx(skm.accuracy_score(labels[kept], predicted), abs=1e-12)
    assert subset["classify"]["macro_f1"] == pytest.approx(
        skm.f1_score(labels[kept], predicted, average="macro", labels=range(4), zero_division=0), abs=1e-12)
    assert subset["classify"]["confusion_matrix"] == skm.confusion_matrix(
        labels[kept], predicted, labels=range(4)).tolist()
    reference = brute_force_map(outputs.embeddings[kept], torch.as_tensor(labels[kept]), [5, None])
    assert subset["retrieve"]["map@5"] == pytest.approx(reference["map@5"], abs=1e-6)
    assert subset["retrieve"]["map"] == pytest.approx(reference["map"], abs=1e-6)
    assert subset["retrieve"]["map"] != record.metrics["retrieve"]["map"]  # the subset's, not the whole set's
    assert list(record.subset_metrics) == ["no_train_duplicates"]
    assert record.data is not None and record.data.test == 40 and record.data.image_size == 224
    assert "(60/40, 224 px)" in record.data.protocol and "3 of its images duplicate" in record.data.protocol
    path = ResultStore(settings.results).path_for(run)
    assert len(load_artifacts(path.with_suffix(".npz")).labels) == 40  # the artifacts keep the whole test set
    assert json.loads(path.read_text())["subset_metrics"] == record.to_dict()["subset_metrics"]
