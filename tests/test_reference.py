"""bench/report/reference/galaxalign.toml against the paper's own tables: every number, row name and column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.api import registry
from bench.report.reference import Column, PaperTable, PaperValue, load_reference

# The paper's tables copied verbatim from its text (the test below checks the copy against the text).
EXCERPT = Path(__file__).parent / "golden" / "galaxalign_tables.md"
PAPER = Path(__file__).resolve().parents[2] / "shared" / "papers" / "galaxalign.txt"
PAPER_DATASETS = {"GalaxyMNIST": "galaxy_mnist", "Galaxy10": "galaxy10_decals"}
PAPER_METRICS = {"Accuracy": "accuracy", "F1 Score": "macro_f1", "F1": "macro_f1", "mAP@5": "map@5", "mAP": "map"}
NUMBER = re.compile(r"(\d\.\d+)(?: \((\d\.\d+)\))?")  # "0.8786 (0.0013)": a value and its std


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse_table(lines: list[str]) -> tuple[list[Column], list[tuple[str, list[PaperValue]]]]:
    """A paper table in markdown: a header of datasets, a separator, a header of metrics, then rows."""
    datasets = [PAPER_DATASETS[c] for c in cells(lines[0]) if c in PAPER_DATASETS]
    metrics = [PAPER_METRICS[c] for c in cells(lines[2]) if c in PAPER_METRICS]
    per_dataset = len(metrics) // len(datasets)
    columns = [Column(datasets[i // per_dataset], metric) for i, metric in enumerate(metrics)]
    rows = []
    for line in lines[3:]:
        name, *rest = cells(line)
        values = [PaperValue(float(v), float(s) if s else None) for v, s in NUMBER.findall(" | ".join(rest))]
        rows.append((name, values))
    return columns, rows


def paper_tables(text: str) -> dict[str, list[str]]:
    """The markdown tables of the text by their first header line, told apart as table2/3/4."""
    blocks: list[list[str]] = []
    previous = ""
    for line in text.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                blocks.append([])
            blocks[-1].append(line)
        previous = line
    keys = {"| Method | Pretraining Dataset | GalaxyMNIST": "table2", "| Method | GalaxyMNIST | Galaxy10": "table3",
            "| Model Variant | Galaxy10 | GalaxyMNIST": "table4"}
    return {key: block for block in blocks for start, key in keys.items() if block[0].startswith(start)}


@pytest.mark.parametrize("key", ["table2", "table3", "table4"])
def test_reference_matches_the_paper(key: str) -> None:
    table: PaperTable = next(t for t in load_reference().tables if t.key == key)
    columns, rows = parse_table(paper_tables(EXCERPT.read_text())[key])
    assert list(table.columns) == columns
    assert [row.name for row in table.rows] == [name for name, _ in rows]
    for row, (name, values) in zip(table.rows, rows, strict=True):
        assert list(row.values) == values, name
    assert len(rows) == {"table2": 10, "table3": 10, "table4": 12}[key]


def test_excerpt_is_verbatim_from_the_paper() -> None:
    if not PAPER.exists():
        pytest.skip(f"paper text not at {PAPER}")
    paper_lines = set(PAPER.read_text().splitlines())
    table_lines = [line for line in EXCERPT.read_text().splitlines() if line]
    assert len(table_lines) == 13 + 13 + 15
    assert all(line in paper_lines for line in table_lines)


def test_table4_ours_rows_repeat_table2() -> None:
    tables = {t.key: t for t in load_reference().tables}
    for backbone, (t2, t4) in {"vit16": ("Ours (ViT-16)", "Ours(ViT-16)"),
                               "convnext": ("Ours (ConvNext)", "Ours(ConvNeXT)")}.items():
        two = dict(zip(tables["table2"].columns, next(r for r in tables["table2"].rows if r.name == t2).values,
                       strict=True))
        four = dict(zip(tables["table4"].columns, next(r for r in tables["table4"].rows if r.name == t4).values,
                        strict=True))
        assert {c: v.value for c, v in four.items() if v} == {c: v.value for c, v in two.items() if v}, backbone


BASELINES = {"MAE": "mae", "DINOv2": "dinov2", "MSN": "msn", "ViT-16": "vit16", "ResNet-18": "resnet18",
             "ResNet-50": "resnet50", "Zoobot (MaxViT)": "zoobot-maxvit", "Zoobot (ConvNeXT)": "zoobot-convnext"}


def expected_run(name: str) -> tuple[str, str]:
    """The method and variant a paper row name means, read from the name (independently of the TOML)."""
    if name in BASELINES:
        return BASELINES[name], "default"
    method = "galaxalign-vit16" if "ViT-16" in name else "galaxalign-convnext"
    prefix = name.partition("(")[0].strip()  # "CLIP", "Ours", "Ours_v1", ..., "Ours_Scratch"
    return method, {"CLIP": "clip", "Ours": "full"}.get(prefix, prefix.removeprefix("Ours_").lower())


def test_rows_map_to_installed_methods_and_variants() -> None:
    reference = load_reference()
    for row in (row for table in reference.tables for row in table.rows):
        assert (row.method, row.variant) == expected_run(row.name)
        assert row.variant in registry.method_class(row.method).variants, row.name
    assert [row.method for row in reference.figure6.rows] == [
        "mae", "dinov2", "msn", "vit16", "resnet18", "resnet50", "galaxalign-vit16", "galaxalign-convnext"]
    assert set(reference.datasets) == {c.dataset for table in reference.tables for c in table.columns}


def test_figure6_has_no_paper_numbers() -> None:
    figure = load_reference().figure6.table(("galaxy_mnist",), [1.0, 0.1])
    assert [c.fraction for c in figure.columns] == [0.1, 1.0]
    assert all(value is None for row in figure.rows for value in row.values)
    assert "no numbers" in figure.note
