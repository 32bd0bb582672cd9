"""All of the report's figures for a set of run records."""

from __future__ import annotations

from pathlib import Path

from bench.api.data import DataOptions
from bench.report.figures import confusion, fraction_curve, pca_grid, retrieval, tsne
from bench.report.figures.select import featured_run, representative_runs
from bench.report.figures.style import slug
from bench.report.figures.thumbnails import load_test_split
from bench.run.record import RunRecord

FIGURE_KINDS = ("fig6", "tsne", "pca_grid", "retrieval", "confusion")


def write_figures(
    records: list[RunRecord], results_dir: Path, out_dir: Path, data_options: DataOptions
) -> dict[str, list[Path]]:
    """Draw every figure the finished runs in ``records`` allow into ``out_dir/figures/``.

    Per dataset: Figure 6, its methods' macro-F1 against training fraction (when one has two or
    more fractions); t-SNE panels and confusion matrices of each method's representative run (see
    ``bench.report.figures.select``); and for the featured run (the best by the retrieve task's main
    metric) a PCA thumbnail grid and retrieval examples, when the dataset's test images can be loaded.
    Returns the written PNGs by kind (keys ``FIGURE_KINDS``).
    """
    folder = out_dir / "figures"
    written: dict[str, list[Path]] = {kind: [] for kind in FIGURE_KINDS}
    finished = [record for record in records if record.status == "ok"]
    for dataset in sorted({record.spec.dataset for record in finished}):
        name = slug(dataset)
        of_dataset = [record for record in finished if record.spec.dataset == dataset]
        runs = representative_runs(of_dataset, results_dir)
        drawn = {
            "fig6": fraction_curve.plot(of_dataset, dataset, folder / f"f1_vs_fraction_{name}.png"),
            "tsne": tsne.plot(runs, dataset, folder / f"tsne_{name}.png"),
            "confusion": confusion.plot(runs, dataset, folder / f"confusion_{name}.png"),
        }
        featured = featured_run(runs)
        if featured is not None and featured.run.artifacts is not None:
            test = load_test_split(dataset, data_options, featured.run.artifacts.labels)
            if test is not None:
                stem = f"{name}_{featured.run.method}"
                drawn["pca_grid"] = pca_grid.plot(featured, test, dataset, folder / f"pca_grid_{stem}.png")
                drawn["retrieval"] = retrieval.plot(featured, test, dataset, folder / f"retrieval_{stem}.png")
        for kind, path in drawn.items():
            if path is not None:
                written[kind].append(path)
    return written
