import json
from pathlib import Path

import pytest


def test_list_shows_methods_datasets_tasks(run_bench) -> None:
    result = run_bench(["list"])
    assert result.exit_code == 0
    for name in ("resnet18", "demo", "galaxy10_decals", "galaxy_mnist", "folder", "classify", "retrieve", "paper"):
        assert name in result.stdout


def test_paper_profile_without_weights_fails_before_training(tmp_path: Path, run_bench) -> None:
    result = run_bench(["run", "--methods", "resnet18", "--profile", "paper", "--results", str(tmp_path)])
    assert result.exit_code == 2
    assert "resnet18: no pretrained weights for timm/resnet18.tv_in1k" in result.stderr
    assert "bench weights fetch --methods resnet18" in result.stderr
    assert not any(tmp_path.iterdir())  # nothing ran


def test_bad_flags_give_one_line_errors(tmp_path: Path, run_bench) -> None:
    for args, expected in (
        (["run", "--init", "imagenet"], "--init 'imagenet' is not pretrained or random"),
        (["run", "--methods", "nope"], "unknown method 'nope'"),
        (["run", "--weights", "resnet18"], "--weights 'resnet18' is not KEY=VALUE"),
        (["run", "--profile", "huge"], "unknown profile 'huge'"),
        (["report", "--results", str(tmp_path / "absent")], "does not exist"),
    ):
        result = run_bench(args)
        assert result.exit_code == 2 and expected in result.stderr, (args, result.stderr)


@pytest.mark.slow
def test_run_then_report(tmp_path: Path, run_bench) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    result = run_bench(["run", "--datasets", "demo:20", "--epochs", "1", "--seeds", "0,1", "--results", str(results)])
    assert result.exit_code == 0 and result.stdout.count("resnet18") == 2
    records = [json.loads(p.read_text()) for p in results.glob("*/*/*.json")]
    assert {r["spec"]["seed"] for r in records} == {0, 1}
    result = run_bench(["report", "--results", str(results), "--out", str(reports)])
    board = (reports / "leaderboard.md").read_text()
    assert result.exit_code == 0 and "## Classification: demo:20" in board and "(2)" in board
