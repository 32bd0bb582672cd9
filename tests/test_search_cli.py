from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.api import registry
from bench.api.data import DataOptions
from bench.eval.search import text_search


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


def test_search_serves_any_method_that_embeds_text_and_saves_models(tmp_path: Path, run_bench, install_plugin) -> None:
    """The core command, not GalaxAlign's: a plugin method's saved model, its query embedded as typed (the
    method has no PhrasesQueries), the best match the most red test image."""
    install_plugin({"colour-searcher": "plugins:ColourSearcher"})
    method = registry.create_method("colour-searcher")
    model = method.save(tmp_path / "colour.pt")  # type: ignore[attr-defined]
    out = tmp_path / "search.png"
    result = run_bench(["search", "--method", "colour-searcher", "--query", " red ", "--dataset", "demo:5",
                        "--model", str(model), "--top", "3", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "for 'red'" in result.stderr and Image.open(out).size[0] == 3 * (128 + 6) + 6
    test = registry.load_dataset("demo:5", DataOptions()).test
    colours = test.read(np.arange(len(test))).astype(np.float64).mean(axis=(1, 2))
    redness = colours[:, 0] / np.linalg.norm(colours, axis=1)
    found = text_search(method, test, "red", top=3)  # type: ignore[arg-type]
    assert list(found.indices) == list(np.argsort(-redness)[:3]) and found.text == "red"
