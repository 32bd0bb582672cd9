"""The leaderboard page: the paper's tables with ours beside them, every other run, failures and figures."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from bench.api import registry
from bench.api.data import DataOptions
from bench.data.splits import NO_TRAIN_DUPLICATES
from bench.io.atomic import replace_folder
from bench.io.progress import console
from bench.report.paper_tables import (
    Measured,
    figure6_sections,
    locate,
    measurements,
    place,
    place_runs,
    render,
    sections,
)
from bench.report.reference import Reference, load_reference
from bench.report.summary import SPREAD_RULE
from bench.report.tables import (
    failures_table,
    markdown_table,
    method_notes,
    summarise,
    task_table,
    undefined_table,
)
from bench.report.vision_language import vision_language_section
from bench.run.frame import records_frame
from bench.run.record import RunRecord
from bench.run.store import ResultStore

# Figure kind (a key of bench.report.figures.write_figures' answer) -> (the section it goes under, its caption).
FIGURES = {
    "confusion": ("table2", "Confusion matrix"),
    "retrieval": ("table3", "Figure 7: a query and its top 5"),
    "fig6": ("figure6", "Figure 6: macro-F1 against the fraction of training data"),
    "tsne": ("embeddings", "Figure 4: t-SNE of test embeddings"),
    "pca_grid": ("embeddings", "Figure 5: test galaxies on a grid by the 2-D PCA of their embeddings"),
}


def figure_links(figures: Mapping[str, Sequence[str]], section: str) -> list[str]:
    """Markdown images for the figures that belong under ``section`` (kinds not in FIGURES go to 'other')."""
    lines = []
    for kind in [*(kind for kind in FIGURES if kind in figures), *sorted(set(figures) - set(FIGURES))]:
        where, caption = FIGURES.get(kind, ("other", kind))
        if where == section:
            for link in sorted(figures[kind]):
                lines += ["", f"![{caption} ({Path(link).stem})]({link})"]
    return lines


def data_section(ok: list[RunRecord], reference: Reference) -> list[str]:
    """Each dataset's profile, the paper dataset it stands for and its split protocol."""
    rows = set()
    for record in ok:
        spec = record.spec
        found = locate(spec.profile, spec.dataset, reference.datasets)
        stands_for = ""
        if found is not None:
            stands_for = reference.datasets[found[1]] + (" (synthetic stand-in)" if found[0].stand_in else "")
        rows.add((spec.dataset, spec.profile, stands_for, record.ok_data.protocol))
    return ["", "## Data", "", markdown_table(["Dataset", "Profile", "Stands for", "Split"], sorted(rows))]


def other_runs(summary: pd.DataFrame, measured: list[Measured], shown: set[tuple[object, ...]]) -> list[str]:
    """Generic tables of every headline metric of every (run setting, dataset, task, fraction) that the paper
    tables above do not show: nothing measured is hidden, and nothing shown above is repeated."""
    headline = {(task.name, metric) for task in registry.tasks() for metric in task.metric_names}
    rest = summary[[(m.task, m.metric) in headline and m.key not in shown for m in measured]]
    lines = []
    for dataset in sorted(rest.dataset.unique()):
        for task in registry.tasks():
            if table := task_table(rest, task.name, dataset):
                lines += ["", f"### {task.title}: {dataset}", "", table]
    if not lines:
        return []
    return ["", "## Other runs", "", "Runs outside the paper's tables (other datasets, fractions, variants, "
            "adaptations or hand-set settings), as mean ± sample std (n seeds).", *lines]


def subset_section(ok: list[RunRecord]) -> list[str]:
    """The same models' metrics on the official test images that duplicate no training image, for the
    datasets whose official test set is evaluated whole (GalaxyMNIST)."""
    frame = records_frame(ok, subset=NO_TRAIN_DUPLICATES)
    if frame.empty:
        return []
    summary = summarise(frame)
    lines = ["", "## Test images that duplicate no training image", "",
             "The paper tables score the official test set whole, as the paper did. The same models (no second "
             "training, no second forward pass) scored on the official test images that duplicate no training "
             "image (the run's split protocol, under Data, says how many were left out):"]
    for dataset in sorted(summary.dataset.unique()):
        for task in registry.tasks():
            if table := task_table(summary, task.name, dataset):
                lines += ["", f"### {task.title}: {dataset}", "", table]
    return lines


def leaderboard_markdown(records: list[RunRecord], figures: Mapping[str, Sequence[str]] | None = None) -> str:
    """The whole leaderboard page for ``records``; ``figures`` maps a figure kind to image links relative
    to the page."""
    reference, figures = load_reference(), figures or {}
    ok = [r for r in records if r.status == "ok"]
    frame = records_frame(ok)
    summary = None if frame.empty else summarise(frame)
    measured = [] if summary is None else measurements(summary)
    placed = place(measured, reference)
    runs = place_runs(ok, reference)
    profiles = ", ".join(sorted({r.spec.profile for r in ok})) or "none"
    lines = [
        "# galaxy-bench leaderboard", "",
        f"{len(ok)} finished runs, {len(records) - len(ok)} failed; profiles: {profiles}.", "",
        f"Our numbers beside those of the paper *{reference.title}*, {reference.version} "
        "(kept in `bench/report/reference/galaxalign.toml`). "
        "A cell reads `ours · paper · Δ`: our mean ± sample std over seeds (n seeds in brackets), the paper's "
        "value (± its std where it gives one) and Δ = ours − paper. A part that is missing has no run behind "
        "it: nothing is averaged over the runs that do exist. `Init random` means no pretrained weights were "
        f"used. A comparability card above each table sets the paper's protocol beside ours, aspect by aspect. "
        f"Leads: {SPREAD_RULE}.",
    ]
    if ok:
        lines += data_section(ok, reference)
    shown: set[tuple[object, ...]] = set()
    parts = [(table.key, table.title, table.note, sections(table.with_extra_columns(), placed))
             for table in reference.tables]
    figure6 = reference.figure6
    parts.append(("figure6", figure6.title, figure6.note, figure6_sections(reference, placed)))
    for key, title, note, found in parts:
        lines += ["", f"## {title}", *(["", note] if note else [])]
        if not found:
            lines += ["", "No runs of ours for this figure yet."]
        for source, table, cells in found:
            lines += ["", *render(table, source, cells, reference, runs.get(source, []) if source else [])]
            shown |= {m.key for by_column in cells.values() for m in by_column.values()}
        lines += figure_links(figures, key)
    if summary is not None:
        text_lines, text_shown = vision_language_section(summary)
        lines += text_lines
        shown |= text_shown
    if embeddings := figure_links(figures, "embeddings"):
        lines += ["", "## Embeddings (Figures 4 and 5)", *embeddings]
    lines += subset_section(ok)
    if summary is not None:
        lines += other_runs(summary, measured, shown)
    if others := figure_links(figures, "other"):
        lines += ["", "## Other figures", *others]
    if notes := method_notes({r.spec.method for r in ok}):
        lines += ["", "## Notes", "", *notes]
    if undefined := undefined_table(records):
        lines += ["", "## Tasks the test data could not define", "",
                  "These runs trained and their other tasks are in the tables above; these tasks have no numbers:",
                  "", undefined]
    if failures := failures_table(records):
        lines += ["", "## Failed runs", "", failures]
    return "\n".join(lines) + "\n"


def draw_figures(records: list[RunRecord], results: Path, out_dir: Path, data: DataOptions) -> dict[str, list[Path]]:
    """The report's figures (Figures 4-7, confusion matrices); none, said in one line, when their plotting
    stack (matplotlib, scipy) cannot be imported."""
    try:
        from bench.report.figures import write_figures
    except ImportError as error:
        console.print(f"[yellow]warning:[/] no figures: {error}. Fix: reinstall galaxy-bench (`pip install -e .`)",
                      soft_wrap=True)
        return {}
    return write_figures(records, results, out_dir, data)


def write_report(results: Path, out_dir: Path, data: DataOptions | None = None) -> Path:
    """``out_dir/leaderboard.md`` (and its figures under ``out_dir/figures``) from every valid record in
    ``results`` (each invalid one is reported and skipped)."""
    return write_leaderboard(list(ResultStore(results).records()), results, out_dir, data or DataOptions())


def write_leaderboard(records: list[RunRecord], results: Path, out_dir: Path, data: DataOptions) -> Path:
    """``out_dir/leaderboard.md`` and its figures (``out_dir/figures``) from ``records``, read from ``results``.

    Both are made in a staging folder inside ``out_dir`` and moved into place only when complete, so a
    failure leaves the previous report whole, and figures of runs no longer in ``results`` do not linger.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".report-"))
    try:
        figures = draw_figures(records, results, staging, data)
        links = {kind: [Path(os.path.relpath(p, staging)).as_posix() for p in paths] for kind, paths in figures.items()}
        (staging / "leaderboard.md").write_text(leaderboard_markdown(records, links))
        (staging / "figures").mkdir(exist_ok=True)
        replace_folder(staging / "figures", out_dir / "figures")
        page = out_dir / "leaderboard.md"
        os.replace(staging / "leaderboard.md", page)
        return page
    finally:
        shutil.rmtree(staging, ignore_errors=True)
