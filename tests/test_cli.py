import json
import sys
from pathlib import Path

import pytest

from bench.cli import main


def bench(args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["bench", *args])
    with pytest.raises(SystemExit) as done:
        main()
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


def test_list_shows_methods_datasets_tasks(capsys, monkeypatch) -> None:
    code, out, _ = bench(["list"], capsys, monkeypatch)
    assert code == 0
    for name in ("resnet18", "demo", "galaxy10_decals", "galaxy_mnist", "folder", "classify", "retrieve", "paper"):
        assert name in out


def test_paper_profile_without_weights_fails_before_training(tmp_path: Path, capsys, monkeypatch) -> None:
    code, _, err = bench(["run", "--methods", "resnet18", "--profile", "paper", "--results", str(tmp_path)],
                         capsys, monkeypatch)
    assert code == 2
    assert "resnet18: no pretrained weights for timm/resnet18.tv_in1k" in err
    assert "bench weights fetch --methods resnet18" in err
    assert not any(tmp_path.iterdir())  # nothing ran


def test_bad_flags_give_one_line_errors(tmp_path: Path, capsys, monkeypatch) -> None:
    for args, expected in (
        (["run", "--init", "imagenet"], "--init 'imagenet' is not pretrained or random"),
        (["run", "--methods", "nope"], "unknown method 'nope'"),
        (["run", "--weights", "resnet18"], "--weights 'resnet18' is not KEY=VALUE"),
        (["run", "--profile", "huge"], "unknown profile 'huge'"),
        (["report", "--results", str(tmp_path / "absent")], "does not exist"),
    ):
        code, _, err = bench(args, capsys, monkeypatch)
        assert code == 2 and expected in err, (args, err)


def test_run_then_report(tmp_path: Path, capsys, monkeypatch) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    code, out, _ = bench(["run", "--datasets", "demo:20", "--epochs", "1", "--seeds", "0,1", "--results", str(results)],
                         capsys, monkeypatch)
    assert code == 0 and out.count("resnet18") == 2
    records = [json.loads(p.read_text()) for p in results.glob("*/*/*.json")]
    assert {r["spec"]["seed"] for r in records} == {0, 1}
    code, _, _ = bench(["report", "--results", str(results), "--out", str(reports)], capsys, monkeypatch)
    board = (reports / "leaderboard.md").read_text()
    assert code == 0 and "## Classification: demo:20" in board and "(2)" in board
