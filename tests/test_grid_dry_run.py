import json
from pathlib import Path

import pytest

from bench.api.data import DataOptions
from bench.api.spec import RunSpec
from bench.grid.estimate import from_records
from bench.grid.plan import make_plan
from bench.run.record import RunData, RunRecord
from bench.run.store import ResultStore

RATES = {"train_images_per_s": 1000.0, "embed_images_per_s": 4000.0}


def perf_file(folder: Path, device_type: str = "cuda", methods: tuple[str, ...] = ("resnet18",)) -> Path:
    path = folder / "perf.json"
    path.write_text(json.dumps({
        "device": "NVIDIA H100 80GB HBM3", "device_type": device_type, "profile": "paper",
        "methods": {method: RATES for method in methods},
    }))
    return path


def test_paper_estimate_on_cuda_from_a_perf_file_without_gpu_or_data(tmp_path: Path) -> None:
    settings = (("batch_size", 64), ("epochs", 30), ("min_epoch_images", 3200))
    specs = [RunSpec("resnet18", "galaxy10_decals", profile="paper", init="pretrained", overrides=settings),
             RunSpec("resnet18", "galaxy_mnist", profile="paper", init="pretrained", overrides=settings),
             RunSpec("resnet18", "galaxy10_decals", 0.01, profile="paper", init="pretrained", overrides=settings),
             RunSpec("vit16", "galaxy_mnist", profile="paper", init="pretrained")]
    plan = make_plan(specs, ResultStore(tmp_path), DataOptions(), "cuda:0", perf_file(tmp_path))
    seconds = [cell[2] for cell in plan.cells]
    # By hand: 30 epochs, batch 64, epochs of at least 3200 images (50 steps). Galaxy10 train/val/test
    # 14188/1774/1774; GalaxyMNIST 7200/800/2000. Evaluation: val every epoch, test once per task.
    assert seconds[0] == pytest.approx(30 * 14188 / 1000 + (30 * 1774 + 2 * 1774) / 4000)
    assert seconds[1] == pytest.approx(30 * 7200 / 1000 + (30 * 800 + 2 * 2000) / 4000)
    assert seconds[2] == pytest.approx(30 * 3200 / 1000 + (30 * 1774 + 2 * 1774) / 4000)
    assert seconds[3] is None  # no throughput for vit16
    assert plan.throughputs["resnet18"].source == "perf.json (NVIDIA H100 80GB HBM3)"


def test_a_perf_file_for_another_device_is_not_used(tmp_path: Path) -> None:
    specs = [RunSpec("resnet18", "galaxy_mnist", profile="paper", init="pretrained")]
    plan = make_plan(specs, ResultStore(tmp_path), DataOptions(), "cuda", perf_file(tmp_path, "cpu"))
    assert plan.cells[0][2] is None and "is for cpu/paper, not cuda/paper" in plan.notes[0]


def test_throughput_from_finished_records_of_the_same_device_and_profile() -> None:
    record = RunRecord.model_validate({
        "run_id": "r", "status": "ok", "spec": {"method": "resnet18", "dataset": "demo", "profile": "demo",
                                                "adapt": "full", "tasks": ["classify", "retrieve"]},
        "environment": {"device": "cuda:1"}, "wall_seconds": 20.0,
        "fit": {"train_images": 1000, "train_seconds": 10.0, "epochs_run": 2},
        "data": {"protocol": "p", "train": 100, "train_full": 100, "val": 50, "test": 50},
    })
    failed = record.model_copy(update={"status": "failed"})
    [(method, rates)] = from_records([record, failed], "cuda", "demo").items()
    assert method == "resnet18" and rates.train_images_per_s == 100.0
    assert rates.embed_images_per_s == (50 * 2 + 50 * 2) / 10.0
    assert from_records([record], "cpu", "demo") == {} and from_records([record], "cuda", "paper") == {}


def test_cli_dry_run_of_the_paper_grid_on_cuda(tmp_path: Path, run_bench) -> None:
    perf = perf_file(tmp_path, methods=("mae", "dinov2", "msn", "vit16", "resnet18", "resnet50",
                                        "galaxalign-vit16", "galaxalign-convnext", "zoobot-convnext"))
    result = run_bench(["run", "--grid", "paper", "--profile", "paper", "--dry-run", "--device", "cuda",
                        "--perf", str(perf), "--results", str(tmp_path / "results")])
    assert result.exit_code == 0, result.output
    assert "624 cells: 0 done" in result.output and "estimated time left on cuda" in result.output
    assert "for the 582 of 624 cells" in result.output
    assert "no estimate for clip-vit16, cosmoclip-vit16, paperclip-vit16, zoobot-maxvit" in result.output
    assert "galaxy_mnist_224" in result.output  # the paper's GalaxyMNIST, at its models' 224 px
    assert not (tmp_path / "results").exists()  # nothing ran


def test_cli_dry_run_of_the_paper_grid_under_the_demo_profile_counts_done_cells(tmp_path: Path, run_bench) -> None:
    results = tmp_path / "results"
    done = RunSpec("resnet18", "demo:60", seed=1)
    data = RunData(protocol="p", train=60, train_full=60, val=10, test=10)
    ResultStore(results).write(RunRecord(run_id=done.run_id, spec=done, status="ok", data=data,
                                         metrics={"classify": {}, "retrieve": {}}))
    result = run_bench(["run", "--grid", "paper", "--profile", "demo", "--all-seeds", "--dry-run", "--results",
                        str(results)])
    assert result.exit_code == 0, result.output
    assert "612 cells: 1 done" in result.output and "demo_mnist" in result.output
    result = run_bench(["run", "--grid", "paper", "--all-seeds", "--shard", "1/4", "--dry-run", "--results",
                        str(results)])
    assert "153 cells" in result.output


def test_cli_grids_lists_the_shipped_grids(run_bench) -> None:
    result = run_bench(["grids"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    for name, count in (("table2", 120), ("table3", 120), ("fig6", 504), ("table4", 72), ("vlm", 36), ("paper", 624)):
        assert any(line.split("│")[1:3] == [f" {name} ".ljust(8), f" {count} ".ljust(7)] for line in lines)


def test_cli_refuses_cell_flags_with_a_grid_and_a_missing_perf_file(tmp_path: Path, run_bench) -> None:
    result = run_bench(["run", "--grid", "table2", "--seeds", "0", "--dry-run"])
    assert result.exit_code == 2 and "--seeds cannot be combined with --grid" in result.output
    result = run_bench(["run", "--grid", "table2", "--dry-run", "--perf", str(tmp_path / "no.json")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = run_bench(["run", "--shard", "2/2", "--dry-run"])
    assert result.exit_code == 2 and "--shard '2/2' is not INDEX/COUNT" in result.output
