"""Time estimates learnt from measurements: finished runs of a cell, the timings file, the progress clock,
and `bench perf` files that merge instead of replacing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.api.data import DataOptions
from bench.api.spec import RunSpec
from bench.grid import files as grids
from bench.grid.estimate import cell_key, cell_times, device_type, from_timings_file, write_timings
from bench.grid.plan import make_plan
from bench.perf.report import write_perf
from bench.run.eta import GridClock
from bench.run.record import RunData, RunRecord
from bench.run.store import ResultStore


def record(spec: RunSpec, seconds: float, device: str = "cpu", status: str = "ok") -> RunRecord:
    return RunRecord(run_id=spec.run_id, spec=spec, status=status, wall_seconds=seconds,  # type: ignore[arg-type]
                     environment={"device": device}, metrics={"classify": {}, "retrieve": {}},
                     data=RunData(protocol="p", train=10, train_full=10, val=2, test=2))


def test_cell_times_pool_the_seeds_of_a_cell_on_one_device_type() -> None:
    runs = [record(RunSpec("resnet18", "demo", seed=0), 10.0), record(RunSpec("resnet18", "demo", seed=1), 14.0),
            record(RunSpec("resnet18", "demo", seed=2), 99.0, status="failed"),
            record(RunSpec("resnet18", "demo", seed=3), 50.0, device="cuda:0"),
            record(RunSpec("resnet18", "demo", fraction=0.5), 3.0)]
    times = cell_times(runs, "cpu")
    full = times[cell_key(RunSpec("resnet18", "demo", seed=7))]
    assert (full.seconds, full.runs) == (12.0, 2)
    assert times[cell_key(RunSpec("resnet18", "demo", fraction=0.5))].seconds == 3.0
    assert cell_times(runs, "cuda")[cell_key(RunSpec("resnet18", "demo"))].seconds == 50.0


def test_runs_on_several_ranks_are_timed_apart_from_one_device() -> None:
    one = record(RunSpec("resnet18", "demo", seed=0), 10.0, device="cuda:0")
    two = RunRecord(**{**one.model_dump(), "wall_seconds": 6.0, "environment": {"device": "cuda:0", "world_size": 2}})
    key = cell_key(RunSpec("resnet18", "demo"))
    assert cell_times([one, two], "cuda")[key].seconds == 10.0
    assert cell_times([one, two], device_type("cuda:0", 2))[key].seconds == 6.0 and device_type("cpu", 2) == "cpu x2"


def test_the_timings_file_round_trips(tmp_path: Path) -> None:
    runs = [record(RunSpec("vit16", "demo", seed=s), 20.0 + s) for s in range(3)]
    path = write_timings(runs, tmp_path / "timings.json")
    [loaded] = from_timings_file(path, "cpu").values()
    assert (loaded.seconds, loaded.runs) == (21.0, 3) and "timings.json" in loaded.source
    assert from_timings_file(path, "cuda") == {} and from_timings_file(tmp_path / "absent.json", "cpu") == {}


def test_a_plan_takes_finished_runs_of_the_cell_first_then_the_timings_file(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "results")
    done = RunSpec("resnet18", "demo:20", seed=0)
    store.write(record(done, 30.0))
    timings = write_timings([record(RunSpec("vit16", "demo:20", seed=0), 40.0),
                             record(RunSpec("resnet18", "demo:20", seed=5), 1000.0)], tmp_path / "timings.json")
    specs = [RunSpec("resnet18", "demo:20", seed=1), RunSpec("vit16", "demo:20", seed=1),
             RunSpec("mae", "demo:20", seed=1)]
    plan = make_plan(specs, store, DataOptions(), "cpu", tmp_path / "no-perf.json", timings)
    assert [cell.seconds for cell in plan.cells] == [30.0, 40.0, None]
    assert plan.cells[0].source == "1 finished run(s)" and "timings.json" in str(plan.cells[1].source)


def test_the_grid_clock_scales_what_is_left_by_what_finished() -> None:
    clock = GridClock([10.0, 20.0, None, 5.0])
    assert clock.seconds_left() is None and clock.describe() == "left ?"  # a cell nothing is known of
    clock.finish(0, 20.0)  # twice its estimate
    assert clock.seconds_left() == pytest.approx(20.0 * 2 + 20.0 + 5.0 * 2)
    clock.skip(1)
    assert clock.seconds_left() == pytest.approx(20.0 + 10.0)
    assert GridClock([3700.0]).describe() == "left ~1:01:40"


def test_bench_perf_merges_methods_of_the_same_device_and_profile(tmp_path: Path) -> None:
    def perf(device_type: str, method: str, rate: float) -> dict[str, Any]:
        return {"device": "x", "device_type": device_type, "profile": "demo", "weights": "random",
                "peak": {"flops_per_s": 1.0, "precision": "fp32", "source": "test"},
                "settings": {"warmup_steps": 1, "steps": 1, "images": 1, "source_size": 64, "reference_workers": 0},
                "environment": {}, "methods": {method: {"error": f"{rate}"}}}

    path = tmp_path / "perf.json"
    write_perf(perf("cpu", "resnet18", 1.0), path, "bench perf --methods resnet18")
    write_perf(perf("cpu", "vit16", 2.0), path, "bench perf --methods vit16")
    write_perf(perf("cpu", "vit16", 3.0), path, "bench perf --methods vit16")
    saved = json.loads(path.read_text())
    assert saved["methods"] == {"resnet18": {"error": "1.0"}, "vit16": {"error": "3.0"}}
    assert saved["command"].splitlines() == ["bench perf --methods resnet18", "bench perf --methods vit16"]
    write_perf(perf("cuda", "mae", 4.0), path, "bench perf --device cuda")
    assert json.loads(path.read_text())["methods"] == {"mae": {"error": "4.0"}}  # another device: replaced


def test_shipped_grids_run_the_demo_profiles_seed_and_all_seeds_on_request(tmp_path: Path) -> None:
    table2 = grids.load("table2")
    assert {spec.seed for spec in table2.specs("demo")} == {0} and len(table2.specs("demo")) == 40
    assert len(table2.specs("demo", all_seeds=True)) == 120 and len(table2.specs("paper")) == 120
    own = tmp_path / "own.toml"
    own.write_text('description = "x"\n[[cells]]\nmethods = ["resnet18"]\ndatasets = ["demo:6"]\nseeds = [0, 1]\n')
    assert len(grids.load(str(own)).specs("demo")) == 2  # a user's own grid runs the seeds it lists
