"""`bench captions blip`: caption every image of a dataset with BLIP, once, into a cache beside the data."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.cli import checks
from bench.cli.common import DataDir, DataPath, OutsidePaths, WeightsDir, parse_pairs
from bench.data.captions.sources import BLIP, DEFAULT_BLIP_MODEL
from bench.io.progress import console


def captions_blip(
    dataset: Annotated[str, typer.Option(help="The dataset to caption, e.g. demo, galaxy10_decals.")],
    model: Annotated[str, typer.Option(help="A BLIP captioning model's Hub id.")] = DEFAULT_BLIP_MODEL,
    batch_size: Annotated[int, typer.Option(min=1, help="Images captioned at once.")] = 16,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    weights: Annotated[Optional[str], typer.Option(help=(
        "blip=FOLDER: the model's folder (config, preprocessor, tokenizer, weights), before the weights chain's."
    ))] = None,
    weights_dir: WeightsDir = None,
    data_dir: DataDir = None,
    data_path: DataPath = None,
    allow_outside_paths: OutsidePaths = False,
) -> None:
    """Caption every image of a dataset with a BLIP model (CosmoCLIP's captions) and keep them beside the data,
    for `bench run --captions blip`; the model's folder is found as pretrained weights are: --weights blip=FOLDER,
    BENCH_WEIGHTS_DIR/<model name>/, the Hugging Face cache."""
    from bench.data.captions.blip import write_captions

    folder = parse_pairs([weights], "--weights", f"{BLIP}=/models/blip-image-captioning-base") if weights else {}
    if set(folder) - {BLIP}:
        raise BenchError(f"--weights {weights} names no captioning model", f"write --weights {BLIP}=FOLDER")
    chosen = checks.device(device, used=True)
    options = DataOptions(data_dir=data_dir, path=data_path, allow_outside_paths=allow_outside_paths)
    path = write_captions(dataset, model, options, folder.get(BLIP), weights_dir, batch_size, chosen)
    console.print(f"wrote {path} (and what wrote it: {path.with_suffix('.json').name})", soft_wrap=True)
