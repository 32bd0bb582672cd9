"""How the `bench` command behaves at its edges: usage errors through the real entry point, and
commands that need no data."""

import subprocess
import sys
from pathlib import Path

import pytest
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
