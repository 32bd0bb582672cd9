"""Golden test: the checked-in records in tests/golden/records -> `bench report` -> exactly
tests/golden/leaderboard.md.

After an intended change to the report, regenerate the expected page and review its diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_report.py

The records are small hand-written JSON files in the real record format (no training). They hold:
resnet18 with 3 seeds and resnet50 missing one seed (n=2) on the demo stand-ins; vit16 and dinov2 on
the Galaxy10 stand-in only (blank GalaxyMNIST cells); a failed dinov2 run; MAE, MSN and Zoobot with no
runs; GalaxAlign full (Tables 2-4) and clip (Table 4); resnet18 at 10 % of the data (Figure 6); a
zero-shot variant, a linear probe and a run with hand-set epochs (other runs); one paper-profile run
on the real Galaxy10 (a second source, n=1).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bench.api.data import DataOptions
from bench.report import page
from bench.run.record import RunRecord

GOLDEN = Path(__file__).parent / "golden"


def fake_figures(records: list[RunRecord], results: Path, out_dir: Path, data: DataOptions) -> dict[str, list[Path]]:
    """Stands in for bench.report.figures so the page does not depend on how figures are drawn."""
    assert len(records) == 23 and results == GOLDEN / "records"
    figures = out_dir / "figures"
    return {"fig6": [figures / "fig6_demo.png"], "confusion": [figures / "confusion_demo.png"],
            "tsne": [figures / "tsne_demo.png"], "retrieval": []}


@pytest.fixture
def board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_bench) -> str:
    monkeypatch.setattr(page, "draw_figures", fake_figures)
    result = run_bench(["report", "--results", str(GOLDEN / "records"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "leaderboard.md").read_text()
    if os.environ.get("UPDATE_GOLDEN"):
        (GOLDEN / "leaderboard.md").write_text(text)
    return text


def test_report_equals_golden_page(board: str) -> None:
    assert board == (GOLDEN / "leaderboard.md").read_text()


def section(board: str, heading: str) -> str:
    start = board.index(heading)
    end = board.find("\n## ", start + 1)
    return board[start:] if end < 0 else board[start:end]


def line(text: str, start: str) -> str:
    return next(row for row in text.splitlines() if row.startswith(start))


def test_golden_page_covers_the_cases(board: str) -> None:
    """What the golden page must show, checked from the fixture's numbers by hand (numpy for the stds)."""
    table2 = section(board, "## Table 2")
    r50 = line(table2, "| ResNet-50 | random |")
    assert f"0.7100 ± {np.std([0.70, 0.72], ddof=1):.4f} (2) · paper 0.9466 ± 0.0023 · Δ −0.2366" in r50  # n=2
    vit = line(table2, "| ViT-16 | random |").split(" | ")
    assert vit[2:4] == ["paper 0.8519 ± 0.0021", "paper 0.8521 ± 0.0021"]  # no GalaxyMNIST run: ours blank
    assert line(table2, "| MAE |  |") == ("| MAE |  | paper 0.7312 ± 0.0070 | paper 0.7314 ± 0.0069 | "
                                          "paper 0.6242 ± 0.0041 | paper 0.5990 ± 0.0098 |")  # paper row, no runs
    assert "0.4000 ± – (1)" in line(table2, "| DINOv2 | random |")  # the failed seed is not averaged in
    clear = f"**ResNet-18** 0.8100 leads ResNet-50 0.7100 by 0.1000 > spread {np.std([0.70, 0.72], ddof=1):.4f}"
    assert clear in line(table2, "- Galaxy10 Accuracy:")
    within = "**ResNet-18** 0.7200 leads ResNet-50 0.7100 by 0.0100 ≤ spread 0.0200: within the seed spread"
    assert within in line(table2, "- GalaxyMNIST Accuracy:")
    assert "### Profile paper: `galaxy10_decals` for Galaxy10" in table2
    assert "0.9312 ± – (1) · paper 0.9501 ± 0.0123 · Δ −0.0189" in line(section(table2, "### Profile paper"),
                                                                          "| ResNet-18 | pretrained |")
    assert "n=1: spread unknown" in section(board, "## Table 4")
    assert "![Confusion matrix (confusion_demo)](figures/confusion_demo.png)" in table2
    figure6 = section(board, "## Figure 6")
    f1 = f"0.5000 ± {np.std([0.48, 0.52], ddof=1):.4f} (2)"  # macro-F1 at 10 % (GalaxyMNIST has no 10 % run)
    assert f"| ResNet-18 | random |  | 0.7000 ± 0.0200 (3) | {f1} | 0.7900 ± 0.0100 (3) |" in figure6
    assert "## Embeddings" in board and "## Failed runs" in board and "out of memory" in section(board, "## Failed")
    others = section(board, "## Other runs")
    for setting in ("| galaxalign-vit16 | zeroshot |", "| resnet50 | default | linear |", "| resnet18 (epochs=1) |"):
        assert setting in others
