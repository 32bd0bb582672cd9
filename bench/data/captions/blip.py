"""BLIP captions of a dataset (CosmoCLIP's captions): every image captioned once by a transformers
``BlipForConditionalGeneration`` whose folder the weights chain finds (bench/train/weights.py), written to a
cache beside the data, ``<data dir>/captions/<dataset>.blip-<model>.csv`` (rows index,caption: the same form
as a user's --captions file), with the model and the generation settings in a JSON file beside it.

Captions are unconditional (no text prompt) and greedy, at most ``MAX_NEW_TOKENS`` tokens: CosmoCLIP does not
state its generation settings; these are ours.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.api import registry
from bench.api.data import DataOptions, DatasetSplits
from bench.api.errors import BenchError
from bench.api.weights import ResolvedWeights, WeightsSpec
from bench.data.captions.sources import BLIP, blip_cache
from bench.io.atomic import write_atomically
from bench.io.progress import progress_bar
from bench.train.checkpoint import folder_weights_file, reading, require_all, weights_fix

MAX_NEW_TOKENS = 30
NAME = BLIP  # how the weights chain names the captioner (--weights, BENCH_WEIGHTS_DIR/<model name>/)
CONFIG_FILES = ("config.json", "preprocessor_config.json", "tokenizer_config.json", "vocab.txt")


def weights_spec(model: str) -> WeightsSpec:
    """The Hub folder of captioning model ``model`` (its config, processor and tokenizer files and weights)."""
    return WeightsSpec(
        method=NAME,
        identifier=model,
        hub_repo=model,
        hub_filename="model.safetensors",
        local_names=(model.split("/")[-1], model.replace("/", "--")),
        hub_config_files=CONFIG_FILES,
        weights_aliases=("pytorch_model.bin",),
    )


def load_captioner(folder: str) -> tuple[Any, Any]:
    """(BlipForConditionalGeneration, BlipProcessor) from a Hub-layout folder; BenchError unless every weight
    came from its file."""
    from transformers import BlipForConditionalGeneration, BlipProcessor

    file = str(folder_weights_file(Path(folder)))
    fix = weights_fix(NAME, folder)
    with reading(NAME, file, fix):
        loaded: Any = BlipForConditionalGeneration.from_pretrained(
            folder, output_loading_info=True, ignore_mismatched_sizes=True
        )
        processor = BlipProcessor.from_pretrained(folder)
    model, info = loaded
    mismatched = [f"{key}: file {tuple(saved)}, model {tuple(built)}" for key, saved, built in
                  sorted(info.get("mismatched_keys", []))]
    require_all(NAME, file, len(model.state_dict()), sorted(info.get("missing_keys", [])), mismatched, fix)
    return model.eval(), processor


@torch.no_grad()
def caption_images(model: Any, processor: Any, images: np.ndarray, device: torch.device) -> list[str]:
    """One caption per uint8 image (n, H, W, 3)."""
    inputs = processor(images=list(images), return_tensors="pt").to(device)
    tokens = model.generate(pixel_values=inputs["pixel_values"], max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                            num_beams=1)
    return [text.strip() for text in processor.batch_decode(tokens, skip_special_tokens=True)]


def caption_dataset(
    splits: DatasetSplits, weights: ResolvedWeights, batch_size: int, device: torch.device
) -> dict[int, str]:
    """``{image id: caption}`` for every image of the splits; BenchError where BLIP writes an empty caption."""
    assert weights.path is not None
    model, processor = load_captioner(weights.path)
    model.to(device)
    captions: dict[int, str] = {}
    parts = (splits.train, splits.val, splits.test)
    with progress_bar() as bar:
        task = bar.add_task(f"captioning with {weights.identifier}", total=sum(map(len, parts)), status="")
        for part in parts:
            for start in range(0, len(part), batch_size):
                indices = np.arange(start, min(start + batch_size, len(part)))
                written = caption_images(model, processor, part.read(indices), device)
                for index, text in zip(part.image_ids[indices].tolist(), written, strict=True):
                    if not text:
                        raise BenchError(f"{weights.identifier} wrote an empty caption for image {index}",
                                         "check that --model names a BLIP captioning model")
                    captions[index] = text
                bar.advance(task, len(indices))
    return captions


def write_cache(path: Path, captions: dict[int, str], weights: ResolvedWeights) -> Path:
    """Write ``captions`` to ``path`` (index,caption) and what wrote them to ``path`` with suffix .json."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["index", "caption"])
    writer.writerows(sorted(captions.items()))
    write_atomically(path, lambda file: file.write(text.getvalue().encode()))
    about = {"model": weights.identifier, "weights": weights.path, "weights_source": weights.source,
             "images": len(captions), "prompt": None, "decoding": "greedy", "max_new_tokens": MAX_NEW_TOKENS}
    write_atomically(path.with_suffix(".json"), lambda file: file.write(json.dumps(about, indent=2).encode()))
    return path


def write_captions(
    dataset: str, model: str, options: DataOptions, weights_folder: str | None, weights_dir: str | None,
    batch_size: int, device: torch.device,
) -> Path:
    """Caption every image of ``dataset`` with ``model`` (its folder found by the weights chain) into its cache."""
    from bench.train.weights import resolve

    spec = weights_spec(model)
    folder = Path(weights_folder).expanduser() if weights_folder else None
    try:
        weights = resolve(spec, folder, Path(weights_dir).expanduser() if weights_dir else None)
    except BenchError as error:  # the chain's own fix speaks of methods
        raise BenchError(error.problem, (
            f"download {model} where there is internet (`huggingface-cli download {model}`) and copy the Hugging "
            f"Face cache, or put its folder in BENCH_WEIGHTS_DIR as {spec.local_names[0]}/, or pass "
            f"--weights {NAME}=FOLDER")) from None
    splits = registry.load_dataset(dataset, options)
    captions = caption_dataset(splits, weights, batch_size, device)
    return write_cache(blip_cache(dataset, model, options), captions, weights)
