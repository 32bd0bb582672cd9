"""Shared fixtures: small synthetic data and settings that keep every test on the CPU and offline."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

os.environ.setdefault("BENCH_NO_PROGRESS", "1")
# Hugging Face reads its cache location once, at import: point it at an empty folder first.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="bench-tests-hf-")
os.environ["HF_HUB_OFFLINE"] = "1"
# Derived files (decompressed data, duplicate groups) go to a temporary folder, not ~/.cache.
os.environ["BENCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-tests-cache-")

InstallPlugin = Callable[[dict[str, str]], None]


@pytest.fixture(autouse=True)
def no_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the user's weights or data folders."""
    monkeypatch.delenv("BENCH_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("BENCH_DATA_DIR", raising=False)


@pytest.fixture
def install_plugin(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> InstallPlugin:
    """Make ``tests/plugins.py`` an installed distribution whose ``bench.methods`` entry points are the
    ones given (name -> "plugins:Class"), the way a third-party package adds methods."""

    def install(methods: dict[str, str]) -> None:
        root = tmp_path_factory.mktemp("site")
        dist = root / "fake_bench_plugin-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-bench-plugin\nVersion: 0.1\n")
        lines = "".join(f"{name} = {target}\n" for name, target in methods.items())
        (dist / "entry_points.txt").write_text(f"[bench.methods]\n{lines}")
        monkeypatch.syspath_prepend(str(root))
        monkeypatch.syspath_prepend(str(Path(__file__).parent))

    return install


@pytest.fixture
def plugin_methods(install_plugin: InstallPlugin) -> None:
    """The methods of ``tests/plugins.py``, installed as a third-party package's."""
    install_plugin({"tiny-convnet": "plugins:TinyConvNet", "exploding-net": "plugins:ExplodingNet"})


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache of this test's own (the resolver reads the constant per call)."""
    from huggingface_hub import constants  # imported late: HF_HOME must be set first (above)

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def run_bench() -> Callable[[list[str]], Result]:
    """Run one ``bench`` command in this process, in standalone mode as the ``bench`` script does:
    ``run_bench(["list"])`` gives its ``exit_code``, ``stdout``, ``stderr`` and ``output`` (both). An
    exception the app does not handle fails the test with its traceback."""
    from bench.cli import app

    def run(args: list[str]) -> Result:
        return CliRunner().invoke(app, args, prog_name="bench", catch_exceptions=False)

    return run


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """The environment for a Python subprocess that imports what this process imports (this worktree's bench)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The pid of a process that runs for the test's length."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process.pid
    process.kill()
    process.wait()
