import json
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.grid import files as grids
from bench.grid.plan import make_plan
from bench.grid.shard import Shard
from bench.run import claims
from bench.run.runner import Runner, RunSettings
from bench.run.store import ResultStore

GRID = """description = "tiny: a plugin CNN on a small demo set"
[[cells]]
methods = ["tiny-convnet"]
datasets = ["demo:10"]
seeds = [{seeds}]
"""
RAN = re.compile(r"^running (\S+ \S+ \S+) \(pid (\d+)\)$", re.MULTILINE)


def spec(seed: int = 0) -> RunSpec:
    return RunSpec("tiny-convnet", "demo:10", seed=seed)


def test_shards_split_a_grid_into_disjoint_shares_that_cover_it() -> None:
    specs = [RunSpec(m, "demo", seed=s) for m in ("resnet18", "vit16") for s in range(5)]
    shares = [Shard.parse(f"{i}/3").select(list(reversed(specs))) for i in range(3)]
    assert sorted(len(share) for share in shares) == [3, 3, 4]
    assert Counter(s for share in shares for s in share) == Counter(specs)
    assert shares[0] == Shard(0, 3).select(specs)  # the order the cells come in does not matter
    for text in ("3/3", "1", "-1/2", "a/b", "1/0"):
        with pytest.raises(BenchError, match="is not INDEX/COUNT"):
            Shard.parse(text)


def run_together(tmp_path: Path, seeds: int, extra: list[list[str]]) -> tuple[list[str], Path]:
    """Start one `bench run` per entry of ``extra`` at once on one results directory; their stderr."""
    grid = tmp_path / "tiny.toml"
    grid.write_text(GRID.format(seeds=", ".join(str(s) for s in range(seeds))))
    results = tmp_path / "results"
    env = {**os.environ, "BENCH_NO_PROGRESS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "bench.cli", "run", "--grid", str(grid), "--device", "cpu",
               "--results", str(results)]
    processes = [subprocess.Popen([*command, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True) for args in extra]
    logs = [process.communicate(timeout=240)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * len(processes), logs
    return logs, results


@pytest.mark.slow
def test_two_shards_and_an_unsharded_run_started_together_run_every_cell_exactly_once(
    tmp_path: Path, plugin_methods: None
) -> None:
    logs, results = run_together(tmp_path, 6, [["--shard", "0/2"], ["--shard", "1/2"], []])
    counts = Counter(cell for log in logs for cell, _ in RAN.findall(log))
    assert len(counts) == 6 and set(counts.values()) == {1}, logs
    records = [json.loads(path.read_text()) for path in results.glob("*/*/*.json")]
    assert len(records) == 6 and all(record["status"] == "ok" for record in records)
    assert not list(results.glob("*/*/*.claim"))  # every claim released
    specs = grids.load(str(tmp_path / "tiny.toml")).specs("demo")
    for index, log in enumerate(logs[:2]):  # a shard runs only cells of its share (the unsharded run took others)
        share = {f"{s.method} {s.dataset} {s.run_id}" for s in Shard(index, 2).select(specs)}
        assert {cell for cell, _ in RAN.findall(log)} <= share


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def place_claim(store: ResultStore, cell: RunSpec, pid: int, host: str | None = None, age_s: float = 0.0) -> Path:
    path = claims.claim_path(store.path_for(cell))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "created": time.time() - age_s}))
    return path


@pytest.mark.slow
def test_a_cell_claimed_by_a_live_process_is_skipped(tmp_path: Path, plugin_methods: None, live_pid: int) -> None:
    store = ResultStore(tmp_path)
    here = place_claim(store, spec(0), live_pid)
    elsewhere = place_claim(store, spec(1), 1, host="another-machine")  # cannot tell: trusted until too old
    plan = make_plan([spec(0), spec(1), spec(2)], store, DataOptions(), "cpu", tmp_path / "no-perf.json")
    assert [cell.state for cell in plan.cells] == ["running", "running", "to run"]
    records = [run.to_dict() for run in Runner(RunSettings(results=tmp_path)).run([spec(0), spec(1), spec(2)])]
    assert [record["spec"]["seed"] for record in records] == [2]
    assert here.exists() and elsewhere.exists() and not store.path_for(spec(0)).exists()


@pytest.mark.slow
def test_stale_claims_are_taken_over_and_released(tmp_path: Path, plugin_methods: None) -> None:
    store = ResultStore(tmp_path)
    dead = place_claim(store, spec(0), dead_pid())
    old = place_claim(store, spec(1), 1, host="another-machine", age_s=claims.STALE_AFTER_S + 60)
    records = [run.to_dict() for run in Runner(RunSettings(results=tmp_path)).run([spec(0), spec(1)])]
    assert [record["status"] for record in records] == ["ok", "ok"]
    assert not dead.exists() and not old.exists()


def test_a_claim_is_created_once_and_only_its_holder_releases_it(tmp_path: Path, live_pid: int) -> None:
    record = tmp_path / "demo" / "m" / "run.json"
    assert claims.acquire(record) is None
    mine = claims.holder(record)
    assert mine is not None and mine.pid == os.getpid()
    assert claims.acquire(record) == mine  # a second claim on a held cell names the holder
    claims.release(record)
    assert claims.holder(record) is None
    place_claim_path = claims.claim_path(record)
    place_claim_path.write_text(json.dumps({"pid": live_pid, "host": socket.gethostname(), "created": time.time()}))
    claims.release(record)
    assert place_claim_path.exists()  # not ours
