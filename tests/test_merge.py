import json
from pathlib import Path

import pytest

from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.run.merge import merge
from bench.run.record import RunData, RunRecord
from bench.run.store import ResultStore

DATA = RunData(protocol="stratified", train=7, train_full=7, val=2, test=2)


def put(root: Path, seed: int, status: str = "ok", finished: str = "2025-01-01T00:00:00", accuracy: float = 0.5,
        artifact: bytes | None = None) -> Path:
    spec = RunSpec("resnet18", "demo", seed=seed)
    results = {"metrics": {"classify": {"accuracy": accuracy}}, "data": DATA} if status == "ok" else {"metrics": {}}
    record = RunRecord(run_id=spec.run_id, spec=spec, status=status, finished_at=finished, **results)
    path = ResultStore(root).write(record)
    if artifact is not None:
        path.with_suffix(".npz").write_bytes(artifact)
    return path


def status_of(path: Path) -> tuple[str, str, float | None]:
    record = json.loads(path.read_text())
    return record["status"], record["finished_at"], record["metrics"].get("classify", {}).get("accuracy")


def test_merge_keeps_the_successful_else_the_newer_record(tmp_path: Path) -> None:
    a, b, into = tmp_path / "a", tmp_path / "b", tmp_path / "into"
    put(a, 0, artifact=b"outputs of a")  # only in a: copied with its artifacts
    put(a, 1, status="failed", finished="2025-03-01")  # newer but failed: the success in b wins
    put(b, 1, finished="2025-01-01")
    put(a, 2, finished="2025-01-01", accuracy=0.4)  # both succeeded, differ: the newer (b) wins, a conflict
    put(b, 2, finished="2025-02-01", accuracy=0.6)
    put(a, 3, status="failed", finished="2025-01-01")  # both failed: the newer
    put(b, 3, status="failed", finished="2025-02-01")
    put(a, 4)  # identical in both: kept, no conflict
    put(b, 4)
    (a / "demo" / "resnet18" / "x.claim").write_text("{}")  # claims and temp files are not records
    (a / "demo" / "resnet18" / ".x.json.123.tmp").write_text("half")

    first = merge([a, b], into)
    assert (first.copied, first.replaced, first.kept, len(first.conflicts)) == (5, 3, 1, 1)

    def path(seed: int) -> Path:
        return ResultStore(into).path_for(RunSpec("resnet18", "demo", seed=seed))

    assert path(0).with_suffix(".npz").read_bytes() == b"outputs of a"
    assert status_of(path(1)) == ("ok", "2025-01-01", 0.5)
    assert status_of(path(2)) == ("ok", "2025-02-01", 0.6) and first.conflicts == [str(path(2))]
    assert status_of(path(3)) == ("failed", "2025-02-01", None)
    assert sorted(p.name for p in (into / "demo" / "resnet18").iterdir()) == sorted(
        [path(seed).name for seed in range(5)] + [path(0).with_suffix(".npz").name]
    )
    again = merge([a, b], into)  # merging again changes nothing
    assert (again.copied, again.replaced, again.kept) == (0, 0, 9)


def test_unreadable_records_are_skipped_and_bad_directories_refused(tmp_path: Path) -> None:
    a, into = tmp_path / "a", tmp_path / "into"
    broken = put(a, 0)
    broken.write_text('{"status": "ok", "spec"')
    report = merge([a], into)
    assert report.unreadable == [str(broken)] and report.copied == 0 and not into.exists()
    with pytest.raises(BenchError, match="does not exist"):
        merge([tmp_path / "absent"], into)
    with pytest.raises(BenchError, match="both a source and the destination"):
        merge([a], a)


def test_cli_merge_reports_counts(tmp_path: Path, run_bench) -> None:
    put(tmp_path / "a", 0)
    put(tmp_path / "b", 1)
    result = run_bench(["merge", str(tmp_path / "a"), str(tmp_path / "b"), "--into", str(tmp_path / "into")])
    assert result.exit_code == 0
    assert "copied 2, replaced 0, kept 0, conflicts 0" in result.stderr
    assert len(list(ResultStore(tmp_path / "into").records())) == 2
