"""The report's figures, drawn from fake records and artifacts (random class-structured embeddings)."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bench.api import registry
from bench.api.data import DataOptions
from bench.api.spec import RunSpec
from bench.report.figures import FIGURE_KINDS, write_figures
from bench.report.figures.confusion import row_normalised
from bench.report.figures.fraction_curve import f1_by_fraction, figure6_curves
from bench.report.figures.pca_grid import grid_assignment
from bench.report.figures.retrieval import queries, top_matches
from bench.report.figures.select import Run, featured_run, representative_runs
from bench.run.artifacts import RunArtifacts, save_artifacts
from bench.run.record import RunData, RunRecord
from bench.run.store import ResultStore

DATASET = "demo:20"
CORRECT = {"resnet18": 0.4, "vit16": 0.9}  # how often a fake run predicts the true class


def fake_run(results: Path, labels: np.ndarray, class_names: list[str], method: str, **spec_fields: Any) -> RunRecord:
    """A finished record whose artifacts hold embeddings clustered by class, as the runner would save it."""
    spec = RunSpec(method, spec_fields.pop("dataset", DATASET), **spec_fields)
    rng = np.random.default_rng(zlib.crc32(spec.run_id.encode() + method.encode()))
    centres = rng.normal(size=(len(class_names), 16))
    embeddings = centres[labels] + rng.normal(scale=0.8, size=(len(labels), 16))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    guesses = rng.integers(0, len(class_names), len(labels))
    predicted = np.where(rng.random(len(labels)) < CORRECT.get(method, 0.5), labels, guesses)
    path = ResultStore(results).path_for(spec).with_suffix(".npz")
    save_artifacts(path, RunArtifacts(np.arange(len(labels)), labels, embeddings.astype(np.float16), predicted))
    confusion = np.zeros((len(class_names),) * 2, int)
    np.add.at(confusion, (labels, predicted), 1)
    accuracy = float(np.mean(labels == predicted))
    return RunRecord.model_validate({
        "status": "ok",
        "run_id": spec.run_id,
        "spec": spec.to_dict(),
        "artifacts": path.name,
        "metrics": {
            "classify": {"accuracy": accuracy, "macro_f1": accuracy - 0.05, "confusion_matrix": confusion.tolist()},
            "retrieve": {"map@5": accuracy - 0.1, "map": accuracy - 0.2},  # the featured run retrieves best
        },
        "data": {"class_names": class_names, "test": len(labels), "protocol": "p", "train": 0, "train_full": 0,
                 "val": 0},
    })


@pytest.fixture(scope="module")
def demo_test() -> tuple[np.ndarray, list[str]]:
    test = registry.load_dataset(DATASET, DataOptions()).test
    return test.labels, list(test.class_names)


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory, demo_test: tuple[np.ndarray, list[str]]) -> tuple[list, Path]:
    """Two methods x two fractions x two seeds, plus runs the figures must not pick."""
    results = tmp_path_factory.mktemp("results")
    labels, names = demo_test
    records = [
        fake_run(results, labels, names, method, fraction=fraction, seed=seed)
        for method in ("resnet18", "vit16")
        for fraction in (0.1, 1.0)
        for seed in (0, 1)
    ]
    records.append(fake_run(results, labels, names, "resnet18", fraction=1.0, seed=0, adapt="linear"))
    failed = RunSpec("vit16", DATASET, seed=2)
    records.append(RunRecord(run_id=failed.run_id, spec=failed, status="failed", error="boom"))
    return records, results


@pytest.fixture(scope="module")
def written(grid: tuple[list, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    records, results = grid
    return write_figures(records, results, tmp_path_factory.mktemp("report"), DataOptions())


@pytest.mark.parametrize("kind", FIGURE_KINDS)
def test_every_figure_kind_is_a_readable_png(written: dict[str, list[Path]], kind: str) -> None:
    [path] = written[kind]
    assert path.parent.name == "figures" and path.suffix == ".png"
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= 400
        assert np.asarray(image.convert("L")).std() > 10  # not a blank canvas


def test_thumbnail_figures_show_the_featured_method(written: dict[str, list[Path]]) -> None:
    assert written["pca_grid"][0].name == "pca_grid_demo_20_vit16.png"  # the more accurate fake run
    assert written["retrieval"][0].name == "retrieval_demo_20_vit16.png"


def test_figures_are_deterministic(grid: tuple[list, Path], written: dict[str, list[Path]], tmp_path: Path) -> None:
    records, results = grid
    again = write_figures(records, results, tmp_path, DataOptions())
    for kind in FIGURE_KINDS:
        assert [p.read_bytes() for p in again[kind]] == [p.read_bytes() for p in written[kind]], kind


def test_unloadable_data_skips_only_the_thumbnail_figures(
    tmp_path: Path, demo_test: tuple[np.ndarray, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    labels, names = demo_test
    records = [fake_run(tmp_path, labels, names, "resnet18", dataset="galaxy10_decals", profile="paper")]
    written = write_figures(records, tmp_path, tmp_path / "report", DataOptions())
    assert written["pca_grid"] == written["retrieval"] == written["fig6"] == []
    assert len(written["tsne"]) == len(written["confusion"]) == 1
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(warnings) == 1 and "skipping the thumbnail figures of galaxy10_decals" in warnings[0]


def test_a_different_test_split_skips_the_thumbnail_figures(
    tmp_path: Path, demo_test: tuple[np.ndarray, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    labels, names = demo_test
    records = [fake_run(tmp_path, labels[::-1].copy(), names, "resnet18")]
    written = write_figures(records, tmp_path, tmp_path / "report", DataOptions())
    assert written["pca_grid"] == written["retrieval"] == []
    assert "not the one the runs used" in capsys.readouterr().err


def test_representative_runs_are_seed_0_full_data_full_adaptation(grid: tuple[list, Path]) -> None:
    records, results = grid
    finished = [r for r in records if r.status == "ok"]
    runs = representative_runs(finished, results)
    assert [run.method for run in runs] == ["resnet18", "vit16"]
    assert all(run.record.spec.to_dict() | {"method": "x"} == RunSpec("x", DATASET).to_dict() for run in runs)
    assert all(run.has_embeddings for run in runs)
    later_seeds = [r for r in finished if r.spec.seed == 1]
    assert {run.record.spec.seed for run in representative_runs(later_seeds, results)} == {1}


def scored_record(method: str, metrics: dict[str, Any]) -> RunRecord:
    data = RunData(protocol="p", train=2, train_full=2, val=2, test=2)
    return RunRecord(run_id="r", spec=RunSpec(method, DATASET), status="ok", metrics=metrics, data=data)


def scored_run(method: str, accuracy: float, map5: float | None, embeddings: bool = True) -> Run:
    artifacts = RunArtifacts(np.arange(2), np.zeros(2, int), np.zeros((2, 3), np.float16) if embeddings else None)
    metrics: dict[str, Any] = {"classify": {"accuracy": accuracy}}
    if map5 is not None:
        metrics["retrieve"] = {"map@5": map5, "map": map5}
    return Run(scored_record(method, metrics), artifacts)


def test_featured_run_is_the_best_by_the_retrieve_tasks_main_metric() -> None:
    run = scored_run
    assert featured_run([run("a", 0.5, 0.5), run("b", 0.9, 0.9)]).run.method == "b"  # type: ignore[union-attr]
    assert featured_run([run("b", 0.9, 0.4), run("galaxalign-vit16", 0.1, 0.8)]).run.method == "galaxalign-vit16"  # type: ignore[union-attr]
    assert featured_run([Run(scored_record("a", {}), None)]) is None


def test_featured_run_breaks_ties_by_name_and_says_why() -> None:
    runs = [scored_run("c", 0.9, 0.7), scored_run("b", 0.2, 0.7), scored_run("a", 0.9, 0.9, embeddings=False),
            scored_run("d", 0.99, None)]
    featured = featured_run(runs)
    assert featured is not None and featured.run.method == "b"  # "a" has no embeddings, "d" no retrieval score
    assert featured.reason == "featured for the best mAP@5 (0.700) of 2 methods; ties: first by name"
    assert featured_run(list(reversed(runs))) == featured


def test_the_embedding_figures_say_which_run_is_featured_and_why(
    grid: tuple[list, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bench.report.figures import pca_grid, retrieval

    records, results = grid
    featured = featured_run(representative_runs([r for r in records if r.status == "ok"], results))
    assert featured is not None
    test = registry.load_dataset(DATASET, DataOptions()).test
    titles: list[str] = []
    for module in (pca_grid, retrieval):
        monkeypatch.setattr(module, "save", lambda figure, path: titles.append(figure._suptitle.get_text()) or path)
        module.plot(featured, test, DATASET, tmp_path / "figure.png")
    assert len(titles) == 2 and all(f"vit16 {featured.reason}" in title for title in titles)


def test_fig6_needs_two_fractions_and_averages_over_seeds(grid: tuple[list, Path], tmp_path: Path) -> None:
    from bench.report.figures import fraction_curve

    records = [r for r in grid[0] if r.status == "ok"]
    summary = f1_by_fraction(records)
    cell = summary[(summary.method == "vit16") & (summary.fraction == 0.1)]
    values = [r.metrics["classify"]["macro_f1"] for r in records if r.spec.method == "vit16" and r.spec.fraction == 0.1]
    assert cell["mean"].item() == pytest.approx(np.mean(values))
    assert cell["std"].item() == pytest.approx(np.std(values, ddof=1))
    assert cell["count"].item() == 2
    full_only = [r for r in records if r.spec.fraction == 1.0]
    assert fraction_curve.plot(full_only, DATASET, tmp_path / "f.png") is None


def f1_record(method: str, fraction: float, seed: int = 0, **spec_fields: Any) -> RunRecord:
    spec = RunSpec(method, DATASET, fraction=fraction, seed=seed, **spec_fields)
    data = RunData(protocol="p", train=2, train_full=2, val=2, test=2)
    metrics = {"classify": {"macro_f1": 0.3 + 0.4 * fraction + 0.01 * seed}}
    return RunRecord(run_id=spec.run_id, spec=spec, status="ok", metrics=metrics, data=data)


def curve_records(method: str, **spec_fields: Any) -> list[RunRecord]:
    return [f1_record(method, fraction, seed, **spec_fields) for fraction in (0.1, 1.0) for seed in (0, 1)]


FIG6_RECORDS = [
    *curve_records("resnet18"),
    *curve_records("resnet18", adapt="linear"),
    *curve_records("vit16"),
    *curve_records("mae", adapt="linear"),  # its only adaptation, named since it is not fine-tuning
    *curve_records("galaxalign-convnext", variant="full"),
    # not drawn: Table 4 variants, Zoobot (not in Figure 6), one fraction only, hand-set settings
    *curve_records("galaxalign-convnext", variant="v2"),
    *curve_records("zoobot-convnext"),
    f1_record("dinov2", 1.0),
    *curve_records("resnet50", overrides=(("epochs", 1),)),
]


def drawn_figure(records: list[RunRecord], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    from bench.report.figures import fraction_curve

    drawn: list[Any] = []
    monkeypatch.setattr(fraction_curve, "save", lambda figure, path: drawn.append(figure) or path)
    assert fraction_curve.plot(records, DATASET, tmp_path / "f.png") is not None
    return drawn[0]


def test_fig6_draws_only_its_methods_by_their_paper_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    figure = drawn_figure(FIG6_RECORDS, monkeypatch, tmp_path)
    [legend] = figure.legends
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == ["MAE · frozen", "ViT-16", "ResNet-18 · fine-tuned", "ResNet-18 · frozen", "Ours (ConvNext)"]
    [axes] = figure.axes
    lines = {container.get_label(): container.lines[0] for container in axes.containers}
    assert set(lines) == set(labels)
    colours = {label.split(" · ")[0]: line.get_color() for label, line in lines.items()}
    assert len(set(colours.values())) == len(colours) == 4  # one colour per method, none shared
    assert lines["ResNet-18 · fine-tuned"].get_color() == lines["ResNet-18 · frozen"].get_color()
    styles = {label: (line.get_linestyle(), line.get_marker()) for label, line in lines.items()}
    assert styles["ResNet-18 · fine-tuned"] == styles["ViT-16"] != styles["ResNet-18 · frozen"]
    assert styles["ResNet-18 · frozen"] == styles["MAE · frozen"]
    assert "random init, demo profile" in axes.get_title()


def test_fig6_gives_every_paper_method_its_own_colour() -> None:
    from bench.report.reference import load_reference

    rows = load_reference().figure6.rows
    records = [r for row in rows for r in curve_records(row.method, variant=row.variant)]
    found = figure6_curves(records)
    assert found is not None
    _, _, curves = found
    assert [curve.label for curve in curves] == [row.name for row in rows]
    assert len({curve.colour for curve in curves}) == len(rows)


def test_fig6_prefers_pretrained_paper_runs_and_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pretrained = curve_records("resnet50", init="pretrained", profile="paper")
    figure = drawn_figure([*curve_records("resnet18"), *pretrained], monkeypatch, tmp_path)
    [axes] = figure.axes
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["ResNet-50"]
    assert "pretrained init, paper profile" in axes.get_title()


def test_grid_assignment_puts_grid_points_back_in_their_cells() -> None:
    side = 4
    cells = np.array([(x, y) for y in range(side) for x in range(side)], float)
    order = np.random.default_rng(0).permutation(len(cells))
    placed = grid_assignment(cells[order] * 3.0 + 1.0, side)  # any scale: the grid uses ranks
    np.testing.assert_array_equal(order[placed], np.arange(len(cells)))


def test_grid_assignment_uses_each_point_at_most_once() -> None:
    placed = grid_assignment(np.random.default_rng(1).normal(size=(50, 2)), 5)
    assert len(placed) == 25 and len(set(placed.tolist())) == 25


def test_top_matches_rank_by_cosine_without_the_query() -> None:
    embeddings = np.random.default_rng(2).normal(size=(20, 5))
    matches, scores = top_matches(embeddings, 3)
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarity = unit @ unit[3]
    similarity[3] = -np.inf
    np.testing.assert_array_equal(matches, np.argsort(-similarity)[:5])
    np.testing.assert_allclose(scores, similarity[matches], rtol=1e-5)


def test_queries_are_the_first_image_of_each_class() -> None:
    assert queries(np.array([2, 0, 2, 1, 0])).tolist() == [1, 3, 0]


def test_confusion_rows_are_normalised() -> None:
    np.testing.assert_allclose(row_normalised([[3, 1], [0, 0]]), [[0.75, 0.25], [0.0, 0.0]])
