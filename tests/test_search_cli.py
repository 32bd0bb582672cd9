from pathlib import Path

import pytest
from PIL import Image


def test_symbols_contact_sheet(tmp_path: Path, run_bench) -> None:
    out = tmp_path / "symbols.png"
    result = run_bench(["symbols", "--dataset", "demo:5", "--out", str(out), "--per-class", "3"])
    assert result.exit_code == 0 and Image.open(out).size[0] > 0


@pytest.mark.slow
def test_saved_model_serves_text_search(tmp_path: Path, run_bench) -> None:
    results = tmp_path / "results"
    result = run_bench(["run", "--methods", "galaxalign-vit16", "--variants", "clip", "--datasets", "demo:20",
                        "--epochs", "1", "--results", str(results), "--save-models"])
    assert result.exit_code == 0, result.stderr
    assert len(list(results.glob("demo_20/galaxalign-vit16/*.pt"))) == 1
    out = tmp_path / "search.png"
    result = run_bench(["search", "--query", "barred spiral", "--dataset", "demo:20", "--results", str(results),
                        "--top", "4", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert Image.open(out).size[0] > 0 and "best score" in result.stderr


def test_search_without_a_saved_model_names_the_fix(tmp_path: Path, run_bench) -> None:
    result = run_bench(["search", "--query", "x", "--results", str(tmp_path)])
    assert result.exit_code == 2 and "--save-models" in result.stderr


def test_search_with_a_method_that_cannot_embed_text_names_the_capability(tmp_path: Path, run_bench) -> None:
    result = run_bench(["search", "--query", "x", "--method", "resnet18", "--results", str(tmp_path)])
    err = result.stderr
    assert result.exit_code == 2 and "resnet18 cannot search by text" in err and "EmbedsText" in err
    assert "galaxalign-convnext, galaxalign-vit16" in err


@pytest.mark.parametrize("content", [b"\x00\x01 random bytes, not a checkpoint", None])
def test_search_with_a_damaged_or_foreign_model_file_is_one_line(tmp_path: Path, run_bench, content) -> None:
    import torch

    model = tmp_path / "model.pt"
    if content is None:
        torch.save({"model_name": "x"}, model)  # a torch file of something else
    else:
        model.write_bytes(content)
    result = run_bench(["search", "--query", "x", "--model", str(model), "--results", str(tmp_path)])
    err = result.stderr.strip()
    assert result.exit_code == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert str(model) in err and "Fix:" in err
