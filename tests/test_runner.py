import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.api.spec import RunSpec
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
