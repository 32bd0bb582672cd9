"""Golden test: the checked-in records in tests/golden/records -> `bench report` -> exactly
tests/golden/leaderboard.md.

After an intended change to the report, regenerate the expected page and review its diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_report.py

The records are small hand-written JSON files in the real record format (no training). They hold:
resnet18 with 3 seeds and resnet50 missing one seed (n=2) on the demo stand-ins; vit16 and dinov2 on
the Galaxy10 stand-in only (blank GalaxyMNIST cells); a failed dinov2 run; MAE, MSN and Zoobot with no
runs; GalaxAlign full (Tables 2-4) and clip (Table 4); resnet18 at 10 % of the data (Figure 6); a
zero-shot variant, a linear probe and a run with hand-set epochs (other runs); one paper-profile run
on the real Galaxy10 (a second source, n=1); zero-shot and cross-modal retrieval metrics of GalaxAlign full
(2 seeds) and zeroshot (the vision-language table).
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
    r50 = line(table2, "| ResNet-50 · fine-tuned | random |")
    assert f"0.7100 ± {np.std([0.70, 0.72], ddof=1):.4f} (2) · paper 0.9466 ± 0.0023 · Δ −0.2366†" in r50  # n=2
    vit = line(table2, "| ViT-16 · fine-tuned | random |").split(" | ")
    assert vit[2:4] == ["", ""]  # no GalaxyMNIST run; the paper's numbers sit beside the frozen line only
    assert "collapsed (1 of 1: one class predicted)" in vit[4]  # its confusion matrix has one non-empty column
    assert line(table2, "| MAE · frozen |  |") == (
        "| MAE · frozen |  | paper 0.7312 ± 0.0070 | paper 0.7314 ± 0.0069 | "
        "paper 0.6242 ± 0.0041 | paper 0.5990 ± 0.0098 |  |")  # paper row, no runs
    assert "0.4000 ± – (1) |" in line(table2, "| DINOv2 · fine-tuned | random |")  # the failed seed is not averaged in
    assert "paper" not in line(table2, "| ResNet-50 · frozen | random |")  # not the paper's protocol for ResNets
    clear = ("**ResNet-18 · fine-tuned** 0.8100 leads ResNet-50 · fine-tuned 0.7100 by 0.1000 > spread "
             f"{np.std([0.70, 0.72], ddof=1):.4f}")
    assert clear in line(table2, "- Galaxy10 Accuracy:")
    within = "**ResNet-18 · fine-tuned** 0.7200 leads ResNet-50 · fine-tuned 0.7100 by 0.0100 ≤ spread 0.0200"
    assert within in line(table2, "- GalaxyMNIST Accuracy:")
    paper = section(table2, "### Profile paper: `galaxy10_decals` for Galaxy10")
    pretrained = line(paper, "| ResNet-18 · fine-tuned | pretrained |")
    assert "0.9312 ± – (1) · paper 0.9501 ± 0.0123 · Δ −0.0189†" in pretrained
    # The card's verdicts, from the record: the weights and input size match what the paper states exactly,
    # the normalisation, batch, schedule and epochs do not (the demo stand-ins differ in everything).
    assert pretrained.endswith("| Input size, Batch, Learning rate and schedule, Epochs and stopping |")
    assert "| Weights | resnet18: torchvision weights='DEFAULT' (IMAGENET1K_V1) |" in paper
    assert "| resnet18: timm/resnet18.tv_in1k | ✓ |" in paper
    assert "| Batch | 16 | fm4astro bao_finetune_gmnist.sh (--ims_per_batch 16) | 64 | ✗ differs |" in paper
    assert "*Data and metrics* (paper: arXiv:2411.19475v1 (29 November 2024))" in table2
    assert "| Data resolution | galaxy_mnist: 224 px (GalaxyMNIST high-res files); galaxy10_decals: 256 px |" in table2
    assert "n=1: spread unknown" in section(board, "## Table 4")
    assert "‡ Ours_Scratch(ViT-16): identical by construction to Ours(ViT-16) under random init" in board
    scratch = line(section(board, "## Table 4"), "| Ours_Scratch(ViT-16) · fine-tuned ‡ | random |")
    full = line(section(board, "## Table 4"), "| Ours(ViT-16) · fine-tuned | random |")
    assert scratch.split(" | ")[2].split(" · ")[0] == full.split(" | ")[2].split(" · ")[0]  # the same runs
    assert "![Confusion matrix (confusion_demo)](figures/confusion_demo.png)" in table2
    figure6 = section(board, "## Figure 6")
    f1 = f"0.5000 ± {np.std([0.48, 0.52], ddof=1):.4f} (2)"  # macro-F1 at 10 % (GalaxyMNIST has no 10 % run)
    assert f"| ResNet-18 · fine-tuned | random |  | 0.7000 ± 0.0200 (3) | {f1} | 0.7900 ± 0.0100 (3) |" in figure6
    assert "## Embeddings" in board and "## Failed runs" in board and "out of memory" in section(board, "## Failed")
    others = section(board, "## Other runs")
    for setting in ("| galaxalign-vit16 | zeroshot |", "| resnet18 (epochs=1) |"):
        assert setting in others
    assert "| resnet50 | default | linear |" not in others  # shown in Table 2 as "ResNet-50 · frozen"
    assert f1 not in others  # the 10 % macro-F1 is in Figure 6: not repeated


def test_golden_vision_language_table(board: str) -> None:
    """Zero-shot and retrieval metrics by method and dataset, mean ± std over seeds, shown once."""
    table = section(board, "## Vision-language")
    assert "### demo" in table and "| Recipe (re-trained here) | Zero-shot acc@1 | Zero-shot acc@5 |" in table
    acc1, i2t = (f"{np.mean(pair):.4f} ± {np.std(pair, ddof=1):.4f} (2)" for pair in ([0.42, 0.46], [0.08, 0.12]))
    assert f"| galaxalign-vit16 | full | full | random | demo |  | {acc1} |" in table
    assert f"| {i2t} |" in line(table, "| galaxalign-vit16 | full |")  # I→T R@1
    assert "| galaxalign-vit16 | zeroshot | full | random | demo |  | 0.1200 ± – (1) |" in table
    others = section(board, "## Other runs")
    assert "Zero-shot" not in others and "T→I" not in others and "I→T" not in others


def test_vision_language_rows_of_a_re_trained_recipe_are_labelled(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from bench.api import registry
    from bench.report.tables import summarise
    from bench.report.vision_language import vision_language_section
    from bench.run.frame import records_frame
    from bench.run.store import ResultStore

    real = registry.method_card
    monkeypatch.setattr(registry, "method_card", lambda name: replace(real(name), recipe_source="PAPERCLIP (2024)"))
    lines, shown = vision_language_section(summarise(records_frame(ResultStore(GOLDEN / "records").records())))
    assert "| galaxalign-vit16 | full | full | random | demo | PAPERCLIP (2024) | 0.4400 ± " in "\n".join(lines)
    assert ("galaxalign-vit16", "full", "full", "random", "demo", "", "demo", "zeroshot", "acc1", 1.0) in shown
    assert not any(key[7] == "classify" for key in shown)
