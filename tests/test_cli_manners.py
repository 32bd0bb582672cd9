"""How the `bench` command behaves at its edges: usage errors through the real entry point, and
commands that need no data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image


@pytest.mark.parametrize(("args", "message"), [
    (["--bogus"], "No such option: --bogus"),
    (["run", "--bogus"], "No such option: --bogus"),
    (["nosuch"], "No such command 'nosuch'"),
])
def test_usage_errors_exit_2_with_typers_usage_text_and_no_traceback(
    args: list[str], message: str, subprocess_env: dict[str, str]
) -> None:
    done = subprocess.run([sys.executable, "-m", "bench.cli", *args], env=subprocess_env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Usage: " in done.stderr and message in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_symbols_of_a_dataset_that_declares_its_classes_need_no_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_bench
) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    monkeypatch.setenv("BENCH_DATA_DIR", str(empty))
    out = tmp_path / "s.png"
    result = run_bench(["symbols", "--dataset", "galaxy10_decals", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as sheet:
        assert sheet.format == "PNG" and sheet.width > 0
    assert not any(empty.iterdir())


def _refused(result, *words: str) -> str:
    """The one error line of a refused command (exit 2, no traceback), checked to name ``words`` and a fix."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "Traceback" not in result.output and "Fix: " in lines[0]
    assert all(word in lines[0] for word in words), lines[0]
    return lines[0]


def _records(folder: Path) -> list[Path]:
    return list(folder.glob("**/*.json"))


TINY = ["--datasets", "demo:3", "--tasks", "classify"]  # should a refused flag run after all, it runs briefly


@pytest.mark.parametrize(("flags", "words"), [
    (["--epochs", "0"], ("--epochs 0", "--epochs 10")),
    (["--epochs", "-1"], ("--epochs -1",)),
    (["--batch-size", "0"], ("--batch-size 0", "--batch-size 64")),
    (["--lr", "0"], ("--lr", "> 0")),
    (["--lr", "nan"], ("--lr nan", "finite")),
    (["--seeds", "-1"], ("--seeds", "-1", "--seeds 0,1,2")),
    (["--seeds", "x"], ("--seeds", "'x'", "--seeds 0,1,2")),
    (["--fractions", "abc"], ("--fractions", "'abc'", "--fractions 0.1,1.0")),
    (["--fractions", "1.5"], ("--fractions", "1.5", "(0, 1]")),
    (["--fractions", "0"], ("--fractions", "(0, 1]")),
    (["--methods", ","], ("--methods ','", "lists nothing", "--methods resnet18")),
    (["--datasets", ","], ("--datasets", "lists nothing")),
    (["--tasks", ","], ("--tasks", "lists nothing")),
    (["--seeds", ","], ("--seeds", "lists nothing")),
    (["--fractions", ","], ("--fractions", "lists nothing")),
    (["--tasks", "nosuch"], ("--tasks nosuch", "classify, image2text, retrieve, text2image, zeroshot")),
    (["--datasets", "demo:2"], ("'demo:2'", "N >= 3")),
    (["--datasets", "nosuch"], ("'nosuch'",)),
    (["--device", "nosuch"], ("--device 'nosuch'", "--device cpu")),
    (["--device", "cuda:99"], ("--device cuda:99", "--device cpu")),
    (["--weights", "resnet18=/x.safetensors"], ("--weights resnet18", "--profile paper")),
    (["--profile", "paper", "--weights", "vit16=/x.safetensors"], ("--weights vit16", "not among the selected")),
    (["--profile", "paper", "--init", "random", "--weights", "resnet18=/x"], ("--weights resnet18", "random init")),
    # covered by the runner's pre-flight of pretrained weights
    (["--profile", "paper", "--weights", "resnet18=/no/such.safetensors"], ("/no/such.safetensors", "--weights")),
])
def test_bad_run_flags_are_refused_before_anything_runs(
    flags: list[str], words: tuple[str, ...], tmp_path: Path, run_bench
) -> None:
    results = tmp_path / "results"
    _refused(run_bench(["run", "--results", str(results), *TINY, *flags]), *words)
    assert not _records(tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_run_on_cuda_without_a_gpu_is_refused_but_a_dry_run_plans(tmp_path: Path, run_bench) -> None:
    results = tmp_path / "results"
    _refused(run_bench(["run", "--results", str(results), *TINY, "--device", "cuda"]), "--device cuda", "--device cpu")
    assert not _records(tmp_path)
    assert run_bench(["run", "--results", str(results), *TINY, "--device", "cuda", "--dry-run"]).exit_code == 0


@pytest.mark.parametrize(("key", "value"), [("overrides", "{ epochs = 0 }"), ("overrides", "{ lr = -1.0 }"),
                                            ("overrides", "{ batch_size = 0 }"), ("seeds", "[-1]")])
def test_grid_file_values_out_of_range_are_refused(key: str, value: str, tmp_path: Path, run_bench) -> None:
    grid = tmp_path / "g.toml"
    grid.write_text(f'description = "d"\n[[cells]]\nmethods = ["resnet18"]\ndatasets = ["demo:2"]\n{key} = {value}\n')
    results = tmp_path / "results"
    _refused(run_bench(["run", "--grid", str(grid), "--results", str(results), "--dry-run"]), str(grid), key)
    assert not _records(tmp_path)


FOLDER_FLAGS = ["--results", "--results", "--into", "--out", "--out", "--out"]  # of each of _folder_commands


def _folder_commands(folder: Path, empty: Path) -> list[list[str]]:
    """Every command that writes into a folder, writing into ``folder`` (``empty``: an empty results directory)."""
    return [
        ["run", "--results", str(folder), *TINY],
        ["run", "--results", str(folder), *TINY, "--dry-run"],
        ["merge", str(empty), "--into", str(folder)],
        ["report", "--results", str(empty), "--out", str(folder)],
        ["perf", "--methods", "resnet18", "--profile", "demo", "--device", "cpu", "--out", str(folder / "p.json")],
        ["audit", "--out", str(folder)],
    ]


@pytest.mark.parametrize("command", range(len(FOLDER_FLAGS)))
@pytest.mark.parametrize("folder", ["file", "file/sub"])
def test_a_folder_flag_naming_a_file_is_refused(command: int, folder: str, tmp_path: Path, run_bench) -> None:
    empty, file = tmp_path / "empty", tmp_path / "file"
    empty.mkdir()
    file.write_text("")
    args = _folder_commands(tmp_path / folder, empty)[command]
    if args[0] == "perf" and folder == "file":
        args[-1] = str(file / "p.json")  # perf's --out is a file: here the file is its folder
    _refused(run_bench(args), str(file), "is a file", FOLDER_FLAGS[command])
    assert not _records(tmp_path) and file.read_text() == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("command", range(len(FOLDER_FLAGS)))
def test_a_read_only_folder_is_refused(command: int, tmp_path: Path, run_bench) -> None:
    empty, locked = tmp_path / "empty", tmp_path / "locked"
    empty.mkdir()
    locked.mkdir()
    locked.chmod(0o555)
    try:
        line = _refused(run_bench(_folder_commands(locked / "out", empty)[command]), str(locked), "not writable")
    finally:
        locked.chmod(0o755)
    assert FOLDER_FLAGS[command] in line and not _records(tmp_path)


def test_report_of_a_file_as_results_is_refused(tmp_path: Path, run_bench) -> None:
    file = tmp_path / "file"
    file.write_text("")
    _refused(run_bench(["report", "--results", str(file), "--out", str(tmp_path / "out")]), "--results", "is a file")
    assert not (tmp_path / "out").exists()
