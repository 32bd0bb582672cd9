"""Run records: one typed reader, invalid records skipped in one line, the long results table."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bench.api import registry
from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.report import page
from bench.run import record as records
from bench.run.record import RecordError, RunData, RunRecord, read_record
from bench.run.runner import Runner, RunSettings
from bench.run.store import ResultStore

GOLDEN = Path(__file__).parent / "golden" / "records"
DATA = RunData(protocol="stratified", train=70, train_full=70, val=15, test=15, class_names=["a", "b"])
MALFORMED = '{"status": "ok", "spec": "oops"}'  # no schema version either
NOT_A_RECORD = "no schema version (not a record galaxy-bench wrote)"


def valid(**fields: Any) -> dict[str, Any]:
    spec = RunSpec("resnet18", "demo")
    return {"schema": 1, "run_id": spec.run_id, "spec": spec.to_dict(), "status": "ok",
            "metrics": {"classify": {"accuracy": 0.5}}, "data": DATA.model_dump(), **fields}


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "demo" / "resnet18" / "run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_golden_records_read_and_keep_their_shape() -> None:
    for path in sorted(GOLDEN.glob("*/*/*.json")):
        assert read_record(path).to_dict() == json.loads(path.read_text()), path


def test_a_failed_record_is_written_without_results(tmp_path: Path) -> None:
    spec = RunSpec("resnet18", "demo")
    path = ResultStore(tmp_path).write(RunRecord(run_id=spec.run_id, spec=spec, status="failed", error="boom"))
    assert json.loads(path.read_text()) == {"schema": 1, "run_id": spec.run_id, "spec": spec.to_dict(),
                                            "status": "failed", "error": "boom"}
    assert read_record(path).spec == spec


@pytest.mark.parametrize(("content", "problem"), [
    ('{"status": "ok", "spec"', "not JSON"),
    ("[1, 2]", "not a JSON object but a list"),
    ({**valid(), "schema": 2}, "schema version 2: written by a newer galaxy-bench"),
    ({key: value for key, value in valid().items() if key != "schema"}, "no schema version"),
    (valid(spec="oops"), "spec: Input should be a dictionary or an instance of RunSpec"),
    ({key: value for key, value in valid().items() if key != "spec"}, "spec: Field required"),
    (valid(spec={"method": "resnet18"}), "spec.dataset: Field required"),
    (valid(metrics={"classify": {"accuracy": "high"}}), "metrics.classify.accuracy: 'high' is not a number"),
    (valid(data=None), "a successful run without its data"),
    (valid(status="done"), "status: Input should be 'ok' or 'failed'"),
])
def test_an_invalid_record_raises_one_line_naming_file_and_problem(tmp_path: Path, content: object,
                                                                   problem: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(RecordError) as raised:
        read_record(path)
    assert str(raised.value).startswith(f"{path}: ") and problem in str(raised.value)
    assert "\n" not in str(raised.value) and isinstance(raised.value, BenchError)


def test_an_older_schema_is_migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, valid(run_id="old-name"))
    monkeypatch.setattr(records, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(records, "MIGRATIONS", {1: lambda data: {**data, "run_id": data["run_id"] + "-v2"}})
    record = read_record(path)
    assert (record.version, record.run_id) == (2, "old-name-v2")
    monkeypatch.setattr(records, "MIGRATIONS", {})
    with pytest.raises(RecordError, match="unknown schema version 1"):
        read_record(path)


def test_the_store_skips_invalid_records_reporting_each_once(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    spec = RunSpec("resnet18", "demo")
    store = ResultStore(tmp_path)
    good = store.write(RunRecord(run_id=spec.run_id, spec=spec, status="ok", metrics={"classify": {}}, data=DATA))
    bad = write(tmp_path, MALFORMED)
    assert [record.run_id for record in store.records()] == [spec.run_id] and good.exists()
    assert not store.is_done(RunSpec("resnet18", "demo", tasks=("retrieve",)))
    list(store.records())
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"skipped {bad}: {NOT_A_RECORD}. Fix: ")


def test_a_record_the_runner_cannot_validate_becomes_a_failed_run(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def evaluated(self: Runner, spec: RunSpec) -> dict[str, Any]:
        return {"metrics": {"classify": {"accuracy": "high"}}, "data": DATA}

    monkeypatch.setattr(Runner, "_train_and_evaluate", evaluated)
    record = Runner(RunSettings(results=tmp_path)).run_one(RunSpec("resnet18", "demo"))
    assert record.status == "failed" and record.error is not None
    assert "metrics.classify.accuracy: 'high' is not a number" in record.error


def fake_figures(records: list[RunRecord], results: Path, out_dir: Path, data: DataOptions) -> dict[str, list[Path]]:
    return {}


def test_bench_report_skips_a_malformed_record_and_writes_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_bench: Any
) -> None:
    results = tmp_path / "results"
    shutil.copytree(GOLDEN, results)
    bad = write(results, MALFORMED)
    monkeypatch.setattr(page, "draw_figures", fake_figures)
    result = run_bench(["report", "--results", str(results), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.output.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and skipped[0].startswith(f"skipped {bad}: {NOT_A_RECORD}")
    assert "22 finished runs, 1 failed" in (tmp_path / "out" / "leaderboard.md").read_text()


@pytest.mark.slow
def test_bench_run_skips_a_malformed_record_and_redoes_its_cell(
    tmp_path: Path, plugin_methods: None, run_bench: Any
) -> None:
    results = tmp_path / "results"
    spec = RunSpec("tiny-convnet", "demo:20")
    path = ResultStore(results).path_for(spec)
    path.parent.mkdir(parents=True)
    path.write_text(MALFORMED)
    command = ["run", "--methods", "tiny-convnet", "--datasets", "demo:20", "--results", str(results)]
    dry = run_bench([*command, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 cells: 0 done" in dry.output and dry.output.count(f"skipped {path}") == 1
    result = run_bench(command)
    assert result.exit_code == 0, result.output
    assert result.output.count(f"skipped {path}: {NOT_A_RECORD}") == 1
    assert read_record(path).status == "ok"


def hand_made(results: Path) -> list[RunRecord]:
    """Two runs with every metric the runner writes: scalars and a confusion matrix."""
    store = ResultStore(results)
    made = []
    for seed, accuracy in ((0, 0.5), (1, 0.75)):
        spec = RunSpec("resnet18", "demo", seed=seed, overrides=(("epochs", 1),))
        metrics = {"classify": {"accuracy": accuracy, "macro_f1": accuracy - 0.1, "confusion_matrix": [[1, 0], [0, 1]]},
                   "retrieve": {"map@5": accuracy / 2, "map@5_tm": accuracy / 1.5, "map": accuracy / 3,
                                "queries": 15.0}}
        made.append(RunRecord(run_id=spec.run_id, spec=spec, status="ok", metrics=metrics, data=DATA))
        store.write(made[-1])
    failed = RunSpec("resnet18", "demo", seed=2)
    store.write(RunRecord(run_id=failed.run_id, spec=failed, status="failed", error="boom"))
    return made


def test_bench_report_writes_the_long_table_in_each_format(tmp_path: Path, run_bench: Any) -> None:
    results, out = tmp_path / "results", tmp_path / "out"
    made = hand_made(results)
    result = run_bench(["report", "--results", str(results), "--out", str(out),
                                      "--format", "csv,json", "--format", "parquet"])
    assert result.exit_code == 0, result.output
    assert not (out / "leaderboard.md").exists()  # md was not asked for
    table = pd.read_csv(out / "results.csv")
    headline = [(task.name, metric) for task in map(registry.task, ("classify", "retrieve"))
                for metric in task.metric_names]  # the tasks hand_made's records ran
    rows = table[[(task, metric) in headline for task, metric in zip(table.task, table.metric, strict=True)]]
    assert len(rows) == len(made) * len(headline)
    assert not rows.duplicated(["run_id", "task", "metric"]).any()
    for record in made:
        for task, metric in headline:
            [row] = rows[(rows.run_id == record.run_id) & (rows.task == task) & (rows.metric == metric)].itertuples()
            assert row.value == record.metrics[task][metric]
            assert (row.method, row.dataset, row.variant, row.adapt, row.init, row.profile, row.fraction,
                    row.seed, row.settings) == ("resnet18", "demo", "default", "full", "random", "demo", 1.0,
                                                record.spec.seed, "epochs=1")
    assert set(zip(table.task, table.metric, strict=True)) == {*headline, ("retrieve", "queries")}  # no matrix
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), table)
    pd.testing.assert_frame_equal(pd.read_json(out / "results.json", orient="records"), table, check_dtype=False)


def test_bench_report_refuses_an_unknown_format(tmp_path: Path, run_bench: Any) -> None:
    result = run_bench(["report", "--results", str(tmp_path), "--format", "md,xlsx"])
    assert result.exit_code == 2 and "unknown --format xlsx" in result.output
