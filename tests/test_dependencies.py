"""Honest dependencies: every package the code imports is declared in pyproject.toml, and zoobot's
fine-tuning API imports with what is declared, without torchaudio (which no build for our torch exists of)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# test_metrics, test_shard_claims, test_weights, test_zoobot_recipe: other tests import their references and helpers
OWN = {"bench", "baselines", "methods", "tests", "ratios", "plugins", "conftest", "test_metrics", "test_shard_claims",
       "test_weights", "test_zoobot_recipe"}


def declared(extra: str | None = None) -> set[str]:
    """Normalised distribution names in pyproject.toml's dependencies (or one optional extra)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {normalise(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]) for requirement in requirements}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_levels(*folders: str) -> set[str]:
    names = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name not in OWN}


def distributions(top_levels: set[str]) -> dict[str, set[str]]:
    found = packages_distributions()
    return {name: {normalise(dist) for dist in found.get(name, [name])} for name in top_levels}


def test_every_package_the_code_imports_is_declared() -> None:
    runtime = declared()
    missing = {name: dists for name, dists in distributions(imported_top_levels("bench", "baselines", "methods"))
               .items() if not dists & runtime}
    assert missing == {}
    dev = runtime | declared("dev")
    missing_in_tests = {name: dists for name, dists in distributions(imported_top_levels("tests")).items()
                        if not dists & dev}
    assert missing_in_tests == {}


def test_click_is_not_imported_directly() -> None:
    """typer ships its own click: importing the real one would be an undeclared dependency."""
    assert "click" not in imported_top_levels("bench", "baselines", "methods", "tests")


@pytest.mark.slow
def test_zoobot_finetuning_imports_without_torchaudio(subprocess_env: dict[str, str]) -> None:
    code = ("import sys; import zoobot.pytorch.training.finetune as f; "
            "print(hasattr(f, 'FinetuneableZoobotClassifier'), 'torchaudio' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True,
                          timeout=300, check=True)
    assert done.stdout.split() == ["True", "False"]
