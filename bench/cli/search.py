"""`bench search`: text-to-image search with a saved fine-tuned model of any method that embeds text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from bench.api import registry
from bench.api.capabilities import EmbedsText, SavesModel, lacking
from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.cli.common import DataDir, DataPath
from bench.io.progress import console


def search(
    query: Annotated[str, typer.Option(help="Free text, e.g. 'barred spiral with loose arms'.")],
    method: Annotated[str, typer.Option(help="One that embeds text and saves models.")] = "galaxalign-vit16",
    dataset: Annotated[str, typer.Option(help="Dataset to search (its test split).")] = "demo",
    model: Annotated[Optional[Path], typer.Option(help="Saved model (.pt from `bench run --save-models`).")] = None,
    results: Annotated[Path, typer.Option(help="Where to find the newest saved model.")] = Path("results"),
    top: Annotated[int, typer.Option(help="How many matches.")] = 16,
    out: Annotated[Path, typer.Option(help="PNG grid to write.")] = Path("search.png"),
    data_dir: DataDir = None,
    data_path: DataPath = None,
) -> None:
    """Text-to-image search with a fine-tuned model: writes a PNG grid of the best matches."""
    from bench.eval.search import search as text_to_image

    searcher = registry.create_method(method)
    if not isinstance(searcher, EmbedsText):
        raise lacking(searcher, EmbedsText, "search by text")
    if not isinstance(searcher, SavesModel):
        raise lacking(searcher, SavesModel, "load a saved model")
    searcher.load(model or newest_model(results, dataset, method))
    splits = registry.load_dataset(dataset, DataOptions(data_dir=data_dir, path=data_path))
    result = text_to_image(searcher, splits.test, query, out, top=top)
    console.print(f"wrote {out}: best score {float(result.scores[0]):.3f} for {result.text!r}")


def newest_model(results: Path, dataset: str, method: str) -> Path:
    """The most recently written saved model of ``method`` on ``dataset`` under ``results``."""
    folder = results / dataset.replace(":", "_") / method
    models = sorted(folder.glob("*.pt"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise BenchError(
            f"no saved {method} model for {dataset} in {folder}",
            f"run `bench run --methods {method} --datasets {dataset} --save-models` first, or pass --model PATH",
        )
    return models[-1]
