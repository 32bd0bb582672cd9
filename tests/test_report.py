from typing import Any

import numpy as np

from bench.report import leaderboard_markdown
from bench.spec import RunSpec


def record(method: str, seed: int, accuracy: float, fraction: float = 1.0, init: str = "random",
           status: str = "ok") -> dict[str, Any]:
    spec = RunSpec(method, "demo", fraction=fraction, seed=seed, init=init)  # type: ignore[arg-type]
    return {
        "run_id": spec.run_id,
        "spec": spec.to_dict(),
        "status": status,
        "error": None if status == "ok" else "out of memory. Fix: lower --batch-size",
        "metrics": {"classify": {"accuracy": accuracy, "macro_f1": accuracy - 0.1, "confusion_matrix": [[1]]}},
        "data": {"protocol": "stratified 70% train / 15% val / 15% test, split seed 0"},
    }


def row(board: str, method: str) -> list[str]:
    line = next(line for line in board.splitlines() if line.startswith(f"| {method} | default |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_cells_are_mean_std_and_seed_count() -> None:
    board = leaderboard_markdown([record("a", 0, 0.5), record("a", 1, 0.7), record("a", 2, 0.9)])
    cells = row(board, "a")
    std = np.std([0.5, 0.7, 0.9], ddof=1)
    assert cells[:5] == ["a", "default", "full", "random", "demo"]
    assert cells[5] == f"0.7000 ± {std:.4f} (3)"
    assert cells[6] == f"0.6000 ± {std:.4f} (3)"


def test_missing_seed_shows_n_and_missing_cell_is_blank() -> None:
    records = [record("a", 0, 0.5), record("a", 1, 0.7), record("a", 0, 0.4, fraction=0.1),
               record("b", 0, 0.8, init="pretrained")]
    board = leaderboard_markdown(records)
    header = next(line for line in board.splitlines() if line.startswith("| Method"))
    assert "Accuracy @ 1" in header and "Accuracy @ 0.1" in header
    a, b = row(board, "a"), row(board, "b")
    assert a[5] == "0.6000 ± 0.1414 (2)" and a[6] == "0.4000 ± – (1)"
    assert b[3] == "pretrained" and b[5] == "0.8000 ± – (1)" and b[6] == ""  # never averaged from elsewhere


def test_failures_are_listed_not_averaged() -> None:
    board = leaderboard_markdown([record("a", 0, 0.5), record("a", 1, 0.0, status="failed")])
    assert row(board, "a")[5] == "0.5000 ± – (1)"
    assert "## Failed runs" in board and "out of memory" in board
    assert "1 finished runs, 1 failed" in board
    assert "Split: stratified 70% train" in board


def test_method_notes_become_footnotes(plugin_methods: None) -> None:
    board = leaderboard_markdown([record("tiny-convnet", 0, 0.5), record("resnet18", 0, 0.5)])
    assert "## Notes" in board
    assert "- **tiny-convnet**: pretrained on the test set" in board
    assert "**resnet18**" not in board
