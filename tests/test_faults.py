"""Reliability under faults: damaged claims, a full disk, SIGINT/SIGTERM mid-grid, temp files of killed writers."""

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_shard_claims import dead_pid, place_claim

from bench.api.spec import RunSpec
from bench.io import atomic
from bench.run import claims
from bench.run import store as store_module
from bench.run.runner import Runner, RunSettings
from bench.run.store import ResultStore

FULL = "no space left on device in {}. Fix: free space or choose --results elsewhere"


def spec(seed: int = 0) -> RunSpec:
    return RunSpec("tiny-convnet", "demo:10", seed=seed)


def temp_of(target: Path, pid: int, host: str | None = None) -> Path:
    """A temp file as ``write_atomically`` names it, of writer ``pid`` on ``host`` (this one by default)."""
    host = (host or socket.gethostname()).replace(".", "_").replace("~", "_")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{host}~{pid}.k3x9_q2a.tmp")
    temp.write_bytes(b"half a record")
    return temp


@pytest.mark.parametrize("content", [b"", b'{"pid": 12', b"\xff\xfe not json"])
def test_an_empty_or_damaged_claim_is_taken_over_in_one_line(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "demo" / "m" / "run.json"
    record.parent.mkdir(parents=True)
    claims.claim_path(record).write_bytes(content)  # e.g. a full disk when it was created
    assert claims.live_holder(record) is None
    assert claims.acquire(record) is None
    mine = claims.holder(record)
    assert mine is not None and mine.pid == os.getpid()
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"taking over the claim {claims.claim_path(record)}: its file is empty or damaged"
    assert not list(record.parent.glob(".*.tmp"))  # the claim's own temp file is gone


@pytest.mark.slow
def test_cells_under_damaged_claims_run(
    tmp_path: Path, plugin_methods: None, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ResultStore(tmp_path)
    for cell, content in ((spec(0), ""), (spec(1), "garbage")):
        claims.claim_path(store.path_for(cell)).parent.mkdir(parents=True, exist_ok=True)
        claims.claim_path(store.path_for(cell)).write_text(content)
    records = Runner(RunSettings(results=tmp_path)).run([spec(0), spec(1)])
    assert [record.status for record in records] == ["ok", "ok"]
    err = capsys.readouterr().err
    assert err.count(": its file is empty or damaged") == 2 and "being run by" not in err
    assert not list(tmp_path.glob("*/*/*.claim"))


def full_disk_for_records(monkeypatch: pytest.MonkeyPatch, failing: int) -> list[Path]:
    """Make the first ``failing`` record writes fail as a full disk does (ENOSPC while writing); the
    paths of every record write tried."""
    real, tried = atomic.write_atomically, []

    def write(path: Path, content: Callable[..., object]) -> Path:
        tried.append(path)

        def no_space(file: object) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        return real(path, no_space if len(tried) <= failing else content)

    monkeypatch.setattr(store_module, "write_atomically", write)
    return tried


def test_a_full_disk_at_the_record_fails_that_cell_only(
    tmp_path: Path, plugin_methods: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried = full_disk_for_records(monkeypatch, failing=1)
    store = ResultStore(tmp_path)
    records = Runner(RunSettings(results=tmp_path)).run([spec(0), spec(1)])
    first = store.path_for(spec(0))
    assert tried == [first, first, store.path_for(spec(1))]  # the record, then the failed record instead
    assert [record.status for record in records] == ["failed", "ok"]
    assert records[0].error == FULL.format(first.parent)
    saved = json.loads(first.read_text())
    assert saved["status"] == "failed" and saved["error"] == records[0].error and "metrics" not in saved
    assert saved["wall_seconds"] == records[0].wall_seconds
    assert not first.with_suffix(".npz").exists()  # no orphan test outputs
    assert store.path_for(spec(1)).with_suffix(".npz").is_file() and store.is_done(spec(1))
    assert not list(tmp_path.rglob(".*.tmp")) and not list(tmp_path.rglob("*.claim"))


def test_a_disk_too_full_even_for_the_failed_record_says_so_and_goes_on(
    tmp_path: Path, plugin_methods: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    full_disk_for_records(monkeypatch, failing=2)
    store = ResultStore(tmp_path)
    records = Runner(RunSettings(results=tmp_path)).run([spec(0), spec(1)])
    first = store.path_for(spec(0))
    assert [record.status for record in records] == ["failed", "ok"]
    assert f"not recorded tiny-convnet demo:10 {spec(0).run_id}: {FULL.format(first.parent)}" in (
        capsys.readouterr().err.splitlines())
    assert not first.exists() and not first.with_suffix(".npz").exists()
    assert store.is_done(spec(1))


def test_a_cell_whose_claim_the_full_disk_refuses_fails_unrun_and_the_grid_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(source: object, target: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "link", no_space)
    store = ResultStore(tmp_path)
    records = Runner(RunSettings(results=tmp_path)).run([spec(0), spec(1)])
    expected = [FULL.format(store.path_for(cell).parent) for cell in (spec(0), spec(1))]
    assert [record.error for record in records] == expected
    assert [record.status for record in records] == ["failed", "failed"]
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]  # nothing written, nothing left


def test_temp_files_of_dead_writers_are_removed_by_the_next_run(
    tmp_path: Path, live_pid: int, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ResultStore(tmp_path).path_for(spec(0))
    dead = [temp_of(target, dead_pid()), temp_of(target.with_suffix(".npz"), dead_pid())]
    old_elsewhere = temp_of(target, 1, host="another-machine")
    os.utime(old_elsewhere, (0, 0))
    kept = [temp_of(target, live_pid), temp_of(target, 2, host="another-machine"),  # may be being written
            target.with_name(".notes.tmp")]  # not one of ours
    kept[-1].write_text("")
    assert Runner(RunSettings(results=tmp_path)).run([]) == []
    assert not any(path.exists() for path in [*dead, old_elsewhere])
    assert all(path.exists() for path in kept)
    assert capsys.readouterr().err.splitlines() == [
        f"removed 3 temp file(s) left by killed writers in {tmp_path}"]


def test_a_write_names_its_temp_file_after_its_writer(tmp_path: Path) -> None:
    seen = []
    atomic.write_atomically(tmp_path / "r.json", lambda file: seen.extend(tmp_path.glob(".*.tmp")))
    [temp] = seen
    match = atomic.TEMP_NAME.match(temp.name)
    assert match is not None and match["target"] == "r.json" and int(match["pid"]) == os.getpid()
    assert (tmp_path / "r.json").is_file() and not temp.exists()


def test_cells_held_by_others_are_counted_in_the_last_line(tmp_path: Path, run_bench, live_pid: int) -> None:
    cells = [RunSpec("resnet18", "demo:10", seed=s, overrides=(("epochs", 1),)) for s in (0, 1)]
    for cell in cells:
        place_claim(ResultStore(tmp_path), cell, live_pid)
    result = run_bench(["run", "--datasets", "demo:10", "--seeds", "0,1", "--epochs", "1", "--device", "cpu",
                        "--results", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == "2 cells skipped: being run by other processes; rerun to pick them up"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=lambda signum: signum.name)
def test_a_signal_mid_grid_keeps_nothing_of_its_cell_and_a_rerun_resumes(
    tmp_path: Path, signum: signal.Signals, subprocess_env: dict[str, str]
) -> None:
    results = tmp_path / "results"
    command = [sys.executable, "-m", "bench.cli", "run", "--methods", "resnet18", "--datasets", "demo:10",
               "--seeds", "0,1,2", "--epochs", "1", "--device", "cpu", "--results", str(results)]
    env = {**subprocess_env, "BENCH_NO_PROGRESS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None and not (
        list(results.glob("*/*/*.json")) and {p.stem for p in results.glob("*/*/*.claim")}
        - {p.stem for p in results.glob("*/*/*.json")}
    ):
        time.sleep(0.02)  # until a cell runs after one finished
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, err
    [line] = [line for line in err.splitlines() if line.startswith("interrupted ")]
    assert f"({signum.name}): nothing of it kept, its claim released; rerun the same command" in line
    assert "Traceback" not in err and "Aborted" not in err
    first = {p: p.read_bytes() for p in results.glob("*/*/*.json")}
    assert 1 <= len(first) < 3, "the signal should land mid-grid"
    assert all(json.loads(content)["status"] == "ok" for content in first.values())  # none half-written
    assert {p.stem for p in results.glob("*/*/*.npz")} == {p.stem for p in first}  # no orphan outputs
    assert not list(results.rglob("*.claim")) and not list(results.rglob(".*.tmp"))
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=240)
    final = {p: p.read_bytes() for p in results.glob("*/*/*.json")}
    assert len(final) == 3 and all(json.loads(c)["status"] == "ok" for c in final.values())
    assert all(final[p] == content for p, content in first.items())  # finished cells were not redone
