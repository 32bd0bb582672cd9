import sys
from pathlib import Path

import pytest
from PIL import Image

from bench.cli import main


def bench(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["bench", *args])
    with pytest.raises(SystemExit) as done:
        main()
    return int(done.value.code or 0), capsys.readouterr().err


def test_symbols_contact_sheet(tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "symbols.png"
    code, _ = bench(["symbols", "--dataset", "demo:5", "--out", str(out), "--per-class", "3"], monkeypatch, capsys)
    assert code == 0 and Image.open(out).size[0] > 0


def test_saved_model_serves_text_search(tmp_path: Path, monkeypatch, capsys) -> None:
    results = tmp_path / "results"
    code, err = bench(["run", "--methods", "galaxalign-vit16", "--variants", "clip", "--datasets", "demo:20",
                       "--epochs", "1", "--results", str(results), "--save-models"], monkeypatch, capsys)
    assert code == 0, err
    assert len(list(results.glob("demo_20/galaxalign-vit16/*.pt"))) == 1
    out = tmp_path / "search.png"
    code, err = bench(["search", "--query", "barred spiral", "--dataset", "demo:20", "--results", str(results),
                       "--top", "4", "--out", str(out)], monkeypatch, capsys)
    assert code == 0, err
    assert Image.open(out).size[0] > 0 and "best score" in err


def test_search_without_a_saved_model_names_the_fix(tmp_path: Path, monkeypatch, capsys) -> None:
    code, err = bench(["search", "--query", "x", "--results", str(tmp_path)], monkeypatch, capsys)
    assert code == 2 and "--save-models" in err


def test_search_with_a_method_that_cannot_embed_text_names_the_capability(tmp_path: Path, monkeypatch, capsys) -> None:
    args = ["search", "--query", "x", "--method", "resnet18", "--results", str(tmp_path)]
    code, err = bench(args, monkeypatch, capsys)
    assert code == 2 and "resnet18 cannot search by text" in err and "EmbedsText" in err
    assert "galaxalign-convnext, galaxalign-vit16" in err
