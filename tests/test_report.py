import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.api.data import DataOptions
from bench.api.spec import RunSpec
from bench.report import leaderboard_markdown, page, write_report
from bench.report.paper_tables import Source, locate
from bench.report.summary import Entry, lead
from bench.run.record import RunRecord

PAPER_G10_ACCURACY = {"resnet18": "paper 0.9501 ± 0.0123"}  # Table 2, copied from the paper by hand


def record(method: str, seed: int, accuracy: float, fraction: float = 1.0, init: str = "random",
           status: str = "ok", dataset: str = "demo", profile: str = "demo", **spec: Any) -> RunRecord:
    run = RunSpec(method, dataset, fraction=fraction, seed=seed, init=init, profile=profile, **spec)  # type: ignore[arg-type]
    return RunRecord.model_validate({
        "run_id": run.run_id,
        "spec": run.to_dict(),
        "status": status,
        "error": None if status == "ok" else "out of memory. Fix: lower --batch-size",
        "metrics": {"classify": {"accuracy": accuracy, "macro_f1": accuracy - 0.1, "confusion_matrix": [[1]]}},
        "data": {"protocol": "stratified 70% train / 15% val / 15% test, split seed 0", "train": 70,
                 "train_full": 70, "val": 15, "test": 15},
    })


def row(board: str, method: str) -> list[str]:
    line = next(line for line in board.splitlines() if line.startswith(f"| {method} | default |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def section(board: str, heading: str) -> str:
    start = board.index(heading)
    end = board.find("\n## ", start + 1)
    return board[start:] if end < 0 else board[start:end]


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
    board = section(leaderboard_markdown(records), "## Other runs")
    header = next(line for line in board.splitlines() if line.startswith("| Method"))
    assert "Accuracy @ 1" in header and "Accuracy @ 0.1" in header
    a, b = row(board, "a"), row(board, "b")
    assert a[5] == "0.6000 ± 0.1414 (2)" and a[6] == "0.4000 ± – (1)"
    assert b[3] == "pretrained" and b[5] == "0.8000 ± – (1)" and b[6] == ""  # never averaged from elsewhere


def test_failures_are_listed_not_averaged() -> None:
    board = leaderboard_markdown([record("a", 0, 0.5), record("a", 1, 0.0, status="failed")])
    assert row(board, "a")[5] == "0.5000 ± – (1)"
    assert "## Failed runs" in board and "out of memory" in board
    assert "1 finished runs, 1 failed; profiles: demo." in board
    data = section(board, "## Data")
    assert "| demo | demo | Galaxy10 (synthetic stand-in) | stratified 70% train / 15% val / 15% test" in data


def test_method_notes_become_footnotes(plugin_methods: None) -> None:
    board = leaderboard_markdown([record("tiny-convnet", 0, 0.5), record("resnet18", 0, 0.5)])
    assert "## Notes" in board
    assert "- **tiny-convnet**: pretrained on the test set" in board
    assert "**resnet18**" not in board


def test_paper_cell_is_ours_paper_and_delta() -> None:
    accuracies = [0.93, 0.95, 0.94]
    records = [record("resnet18", seed, a, init="pretrained", dataset="galaxy10_decals", profile="paper")
               for seed, a in enumerate(accuracies)]
    table2 = section(leaderboard_markdown(records), "## Table 2")
    line = next(line for line in table2.splitlines() if line.startswith("| ResNet-18 · fine-tuned | pretrained |"))
    mean, std = np.mean(accuracies), np.std(accuracies, ddof=1)
    delta = f"{mean - 0.9501:+.4f}".replace("-", "−")
    assert f"| {mean:.4f} ± {std:.4f} (3) · {PAPER_G10_ACCURACY['resnet18']} · Δ {delta}† |" in line
    # The records hold no config: only the input size (the profile's, normalised; Lastufka's code does not
    # normalise) is known to differ from what the paper's sources state exactly.
    assert line.endswith("| Input size |")
    assert "### Profile paper: `galaxy10_decals` for Galaxy10" in table2
    assert "Synthetic stand-ins" not in table2  # the paper's own dataset
    assert "## Other runs" not in leaderboard_markdown(records)  # everything measured is in Table 2


def test_stand_ins_of_different_sizes_are_never_averaged_together() -> None:
    board = leaderboard_markdown([record("resnet18", 0, 0.6), record("resnet18", 0, 0.8, dataset="demo:20")])
    table2 = section(board, "## Table 2")
    assert "### Profile demo: `demo` for Galaxy10" in table2 and "### Profile demo: `demo:20` for Galaxy10" in table2
    assert table2.count("Synthetic stand-ins, not the paper's data**, init random") == 2
    assert "0.6000 ± – (1) · paper 0.9501" in table2 and "0.8000 ± – (1) · paper 0.9501" in table2
    assert "0.7000 ± 0.1414 (2)" not in table2 and "(2)" not in table2


@pytest.mark.parametrize("run", [
    record("zoobot-convnext", 0, 0.5, fraction=0.1),  # not in Figure 6
    record("resnet18", 0, 0.5, overrides=(("epochs", 1),)),
    record("galaxalign-vit16", 0, 0.5, variant="zeroshot"),
    record("resnet18", 0, 0.5, dataset="folder"),
    record("resnet18", 0, 0.5, profile="paper"),  # demo data under the paper profile stands for nothing
])
def test_runs_outside_the_paper_tables_are_other_runs(run: RunRecord) -> None:
    board = leaderboard_markdown([run])
    assert "0.5000 ± – (1)" in section(board, "## Other runs")
    for heading in ("## Table 2", "## Table 3", "## Table 4"):
        assert "No runs of ours for this table yet" in section(board, heading)
    assert "No runs of ours for this figure yet" in section(board, "## Figure 6")


def test_both_adaptations_of_a_baseline_are_rows_and_the_paper_sits_beside_its_protocol() -> None:
    """The reference file names frozen as the paper's protocol for the ViTs and fine-tuned for the ResNets."""
    records = [record(method, 0, 0.5, adapt=adapt) for method in ("vit16", "resnet18") for adapt in ("linear", "full")]
    table2 = section(leaderboard_markdown(records), "## Table 2")
    lines = {line.split(" | ")[0].strip("| "): line for line in table2.splitlines() if " · " in line[:40]}
    assert "paper 0.7304" in lines["ViT-16 · frozen"] and "paper" not in lines["ViT-16 · fine-tuned"]
    assert "paper 0.9501" in lines["ResNet-18 · fine-tuned"] and "paper" not in lines["ResNet-18 · frozen"]
    assert "## Other runs" not in leaderboard_markdown(records)


def test_a_model_predicting_one_class_is_flagged_collapsed() -> None:
    collapsed = record("resnet18", 0, 0.5)
    collapsed = collapsed.model_copy(update={"metrics": {"classify": {
        "accuracy": 0.5, "macro_f1": 1 / 3, "confusion_matrix": [[5, 0], [5, 0]]}}})
    healthy = record("resnet18", 1, 0.6).model_copy(update={"metrics": {"classify": {
        "accuracy": 0.6, "macro_f1": 0.6, "confusion_matrix": [[3, 2], [2, 3]]}}})
    table2 = section(leaderboard_markdown([collapsed, healthy]), "## Table 2")
    assert "⚠ collapsed (1 of 2: one class predicted)" in table2
    assert "collapsed" not in section(leaderboard_markdown([healthy]), "## Table 2")


def test_figure6_point_also_lists_its_other_metrics() -> None:
    board = leaderboard_markdown([record("resnet18", 0, 0.5, fraction=0.1)])
    assert "| ResNet-18 · fine-tuned | random | 0.4000 ± – (1) |" in section(board, "## Figure 6")
    others = section(board, "## Other runs")
    assert "| resnet18 | default | full | random | demo | 0.5000 ± – (1) |" in others  # its accuracy is in no table
    assert "0.4000" not in others  # its macro-F1 is in Figure 6: not repeated


@pytest.mark.parametrize(("entries", "expected"), [
    ([], "no runs"),
    ([Entry("A", 0.8, 0.01, 3)], "only **A** has runs: 0.8000"),
    ([Entry("B", 0.7, 0.02, 3), Entry("A", 0.8, 0.01, 3)],
     "**A** 0.8000 leads B 0.7000 by 0.1000 > spread 0.0200: a clear lead"),
    ([Entry("A", 0.72, 0.01, 3), Entry("B", 0.71, 0.02, 2)],
     "**A** 0.7200 leads B 0.7100 by 0.0100 ≤ spread 0.0200: within the seed spread"),
    ([Entry("A", 0.9, float("nan"), 1), Entry("B", 0.5, 0.01, 3)],
     "**A** 0.9000 leads B 0.5000 by 0.4000; n=1: spread unknown"),
    ([Entry("A", 0.7, 0.0, 2), Entry("B", 0.7, 0.0, 2)],
     "**A** 0.7000 leads B 0.7000 by 0.0000 ≤ spread 0.0000: within the seed spread"),
])
def test_lead_rule(entries: list[Entry], expected: str) -> None:
    assert lead(entries) == expected


def test_figures_are_linked_relative_under_their_sections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results, out = tmp_path / "results", tmp_path / "reports"
    results.mkdir()

    def figures(records: list[RunRecord], results_dir: Path, out_dir: Path,
                data: DataOptions) -> dict[str, list[Path]]:
        return {"retrieval": [out_dir / "figures" / "retrieval_demo.png"], "pca_grid": [out_dir / "figures" / "p.png"],
                "umap": [out_dir / "figures" / "u.png"]}

    monkeypatch.setattr(page, "draw_figures", figures)
    board = write_report(results, out).read_text()
    assert "![Figure 7: a query and its top 5 (retrieval_demo)](figures/retrieval_demo.png)" in section(
        board, "## Table 3")
    assert "(figures/p.png)" in section(board, "## Embeddings") and "(figures/u.png)" in section(
        board, "## Other figures")


def test_report_works_without_the_figures_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "bench.report.figures", None)  # importing it raises ImportError
    assert page.draw_figures([], tmp_path, tmp_path, DataOptions()) == {}
    assert "no figures" in capsys.readouterr().err  # said, not silent
    board = write_report(tmp_path, tmp_path / "out").read_text()
    assert "0 finished runs, 0 failed; profiles: none." in board and "![" not in board


def test_galaxy_mnist_at_224_px_is_the_papers_galaxy_mnist_and_real_data() -> None:
    assert locate("paper", "galaxy_mnist_224", {"galaxy_mnist"}) == (Source("paper", False, None), "galaxy_mnist")
    assert locate("demo", "demo_mnist:150", {"galaxy_mnist"}) == (Source("demo", True, None), "galaxy_mnist")
    records = [record("resnet18", seed, a, init="pretrained", dataset="galaxy_mnist_224", profile="paper")
               for seed, a in enumerate((0.8, 0.9))]
    records.append(record("resnet18", 0, 0.5, init="pretrained", dataset="galaxy_mnist", profile="paper"))
    board = leaderboard_markdown(records)
    table2 = section(board, "## Table 2")
    assert "### Profile paper: `galaxy_mnist_224` for GalaxyMNIST" in table2
    assert "### Profile paper: `galaxy_mnist` for GalaxyMNIST" in table2  # 64 px runs: a table of their own
    assert "Synthetic stand-ins" not in table2
    assert "0.8500 ± 0.0707 (2)" in table2 and "0.5000 ± – (1)" in table2 and "(3)" not in table2
    assert "| galaxy_mnist_224 | paper | GalaxyMNIST | stratified" in section(board, "## Data")


def test_metrics_on_the_duplicate_free_test_subset_have_their_own_section() -> None:
    run = record("resnet18", 0, 0.7, dataset="galaxy_mnist_224", profile="paper", init="pretrained")
    run = run.model_copy(update={"subset_metrics": {"no_train_duplicates": {"classify": {"accuracy": 0.65}}}})
    board = leaderboard_markdown([run])
    subset = section(board, "## Test images that duplicate no training image")
    assert "| resnet18 | default | full | pretrained | paper | 0.6500 ± – (1) |" in subset
    assert "0.7000" not in subset  # the whole test set's number stays in Table 2
    assert "## Test images that duplicate no training image" not in leaderboard_markdown([record("a", 0, 0.5)])


def test_a_report_is_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while drawing leaves the previous leaderboard and figures as they were; a finished report
    replaces the figures folder, so figures of runs no longer in the results do not linger."""
    results, out = tmp_path / "results", tmp_path / "reports"
    results.mkdir()
    (out / "figures").mkdir(parents=True)
    (out / "leaderboard.md").write_text("old page")
    (out / "figures" / "stale.png").write_bytes(b"old figure")
    (out / "perf.md").write_text("not the report's")

    def failing(records: list[RunRecord], results_dir: Path, out_dir: Path, data: DataOptions) -> dict[str, list[Path]]:
        (out_dir / "figures").mkdir()
        (out_dir / "figures" / "half.png").write_bytes(b"half")
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(page, "draw_figures", failing)
    with pytest.raises(RuntimeError):
        write_report(results, out)
    assert (out / "leaderboard.md").read_text() == "old page"
    assert sorted(p.name for p in out.iterdir()) == ["figures", "leaderboard.md", "perf.md"]  # no staging left
    assert [p.name for p in (out / "figures").iterdir()] == ["stale.png"]

    def drawing(records: list[RunRecord], results_dir: Path, out_dir: Path, data: DataOptions) -> dict[str, list[Path]]:
        (out_dir / "figures").mkdir()
        (out_dir / "figures" / "new.png").write_bytes(b"new")
        return {"confusion": [out_dir / "figures" / "new.png"]}

    monkeypatch.setattr(page, "draw_figures", drawing)
    board = write_report(results, out).read_text()
    assert "(figures/new.png)" in board
    assert [p.name for p in (out / "figures").iterdir()] == ["new.png"] and (out / "perf.md").exists()
    assert sorted(p.name for p in out.iterdir()) == ["figures", "leaderboard.md", "perf.md"]


def test_records_of_a_profiles_own_stand_in_and_of_other_sizes_report_together() -> None:
    """The README's order (`--methods all` on demo, then the paper grid on demo:60) in one results folder."""
    board = leaderboard_markdown([record("resnet18", 0, 0.6, dataset="demo"),
                                  record("resnet18", 0, 0.7, dataset="demo:60"),
                                  record("resnet18", 0, 0.8, dataset="demo:20")])
    table2 = section(board, "## Table 2")
    for name in ("`demo` for Galaxy10", "`demo:60` for Galaxy10", "`demo:20` for Galaxy10"):
        assert name in table2


@pytest.mark.parametrize(("config", "expected"), [
    ({"lr": 1e-5, "weight_decay": 1e-3, "schedule": "warmup_constant", "warmup_epochs": 1.0, "warmup_steps": 2000},
     "lr 1e-05, wd 0.001, 2,000-step warm-up + constant"),
    ({"lr": 1e-5, "weight_decay": 0.1, "schedule": "warmup_cosine", "warmup_epochs": 1.0, "warmup_steps": None},
     "lr 1e-05, wd 0.1, 1-epoch warm-up + cosine"),
    ({"lr": 1e-3, "weight_decay": 0.0, "schedule": "linear"}, "lr 0.001, wd 0, linear decay, no warm-up"),
])
def test_the_comparability_card_names_each_schedule(config: dict[str, Any], expected: str) -> None:
    from bench.report.comparability import lr_schedule_of

    assert lr_schedule_of(record("resnet18", 0, 0.5).model_copy(update={"config": config})) == expected


def test_runs_on_other_captions_than_their_cells_default_are_rows_of_their_own(tmp_path: Path) -> None:
    from bench.run.frame import settings_label

    cell = RunSpec("paperclip-vit16", "demo:3", tasks=("image2text",))
    assert settings_label(replace(cell, inputs=(("captions", "rendered, version 1"),))) == ""
    by_class = replace(cell, inputs=(("captions", "classes, tables sha256 0123"),))
    assert settings_label(by_class) == "captions=classes, tables sha256 0123"
    assert settings_label(replace(cell, inputs=(("captions", "file, sha256 4567"),))) == "captions=file, sha256 4567"
