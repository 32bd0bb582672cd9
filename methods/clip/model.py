"""An open_clip CLIP for the bench: where its pretrained weights live, how it is built and loaded, and
the image-text pair of encoders every CLIP method trains (``ClipPair``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import open_clip
import torch
import torch.nn.functional as F
from torch import nn

from bench.api.errors import BenchError
from bench.api.weights import RANDOM_INIT, ResolvedWeights, WeightsSpec
from bench.train.checkpoint import checked_load, weights_fix
from methods.clip.loss import MAX_LOGIT_SCALE

SAFETENSORS_FILE = "open_clip_model.safetensors"  # open_clip's names for a checkpoint on the Hub
PICKLE_FILE = "open_clip_pytorch_model.bin"


@dataclass(frozen=True)
class ClipArch:
    """One backbone family: the paper profile's open_clip model and its demo-sized sibling."""

    paper_model: str  # open_clip model name
    default_tag: str  # open_clip pretrained tag
    tiny_model: str  # an open_clip config shipped beside the method (see ``register_configs``)
    convolutional: bool
    # The file the default tag's Hub repo really holds, where that is known to differ from open_clip's
    # order (safetensors name first, then the pickle); None: that order.
    default_hub_file: str | None = None


def register_configs(folder: Path, names: Sequence[str]) -> None:
    """Make the open_clip model configs ``names`` (``<name>.json`` in ``folder``) known to open_clip."""
    if any(name not in open_clip.list_models() for name in names):
        open_clip.add_model_config(folder)


register_configs(Path(__file__).parent / "configs", ("clip-tiny-vit16",))


def known_tags(model_name: str) -> list[str]:
    return list(open_clip.list_pretrained_tags_by_model(model_name))


def pretrained_cfg(model_name: str, tag: str) -> dict[str, Any]:
    """open_clip's record of ``model_name`` with ``tag``; BenchError for an unknown tag."""
    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    if not cfg:
        raise BenchError(
            f"open_clip has no pretrained tag {tag!r} for {model_name}",
            f"pass --option clip_tag=TAG with one of: {', '.join(known_tags(model_name))}",
        )
    return dict(cfg)


def hub_files(model_name: str, tag: str, arch: ClipArch) -> tuple[str, list[str]]:
    """(Hub repo, candidate file names in the order open_clip tries them) for ``tag``."""
    cfg = pretrained_cfg(model_name, tag)
    hub = cfg.get("hf_hub", "")
    if not hub:
        raise BenchError(
            f"{model_name} tag {tag!r} is not published on the Hugging Face Hub",
            "download its checkpoint by hand and pass it with --weights METHOD=PATH",
        )
    # open_clip's convention: "org/repo/" means the default file names, "org/repo/file" one file
    repo, filename = (hub.rstrip("/"), "") if hub.endswith("/") else os.path.split(hub)
    if tag == arch.default_tag and model_name == arch.paper_model and arch.default_hub_file:
        return repo, [arch.default_hub_file]
    if not filename or filename == PICKLE_FILE:
        return repo, [SAFETENSORS_FILE, PICKLE_FILE]
    if filename.endswith((".bin", ".pth")):
        return repo, [filename[:-4] + ".safetensors", filename]
    return repo, [filename]


def clip_weights_spec(method: str, arch: ClipArch, tag: str) -> WeightsSpec:
    """Where ``tag``'s checkpoint lives: the expected Hub file, with open_clip's other candidate
    names as aliases (looked for in the cache and tried in turn on download)."""
    repo, files = hub_files(arch.paper_model, tag, arch)
    stem = f"{arch.paper_model}-{tag}"
    local = (f"{stem}.safetensors", f"{stem}.bin", f"{stem}.pt")
    identifier = f"open_clip/{arch.paper_model}.{tag}"
    return WeightsSpec(method, identifier, repo, files[0], local, weights_aliases=tuple(files[1:]))


def create_clip(
    model_name: str, image_size: int, method: str, weights: ResolvedWeights = RANDOM_INIT, quick_gelu: bool = False
) -> Any:
    """An open_clip CLIP (untyped there, hence Any) for ``method``; pretrained ``weights`` are
    loaded by open_clip's own ``load_checkpoint`` (its key conversions and position-embedding
    resizing) and checked to hold every tensor of the model."""
    config = open_clip.get_model_config(model_name)
    if config is None:
        raise BenchError(f"open_clip has no model {model_name!r}", "reinstall open_clip_torch>=3")
    native = config["vision_cfg"].get("image_size", image_size)
    kwargs: dict[str, Any] = {"force_image_size": image_size} if native != image_size else {}
    root = logging.getLogger()
    root.addFilter(_random_init_notice)  # the weights are loaded below, or the run record says init=random
    try:
        model = open_clip.create_model(model_name, force_quick_gelu=quick_gelu, **kwargs)
    finally:
        root.removeFilter(_random_init_notice)
    if weights.path is not None:
        with checked_load(model, method, weights.path, weights_fix(method, weights.identifier or model_name)):
            open_clip.load_checkpoint(model, weights.path)
    return model


def _random_init_notice(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("No pretrained weights loaded")


class ClipPair(nn.Module):
    """A CLIP's image and text encoders, L2-normalised, and the learned temperature they share."""

    clip: Any  # open_clip.CLIP: .visual, .encode_image, .encode_text, .logit_scale

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.clip = clip

    @property
    def logit_scale(self) -> torch.Tensor:
        scale: torch.Tensor = self.clip.logit_scale
        return scale

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.clip.encode_image(images), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.clip.encode_text(tokens), dim=-1)

    def no_weight_decay(self) -> set[str]:
        """open_clip's own list (position and class embeddings)."""
        return {f"clip.{name}" for name in self.clip.no_weight_decay()}

    @torch.no_grad()
    def clamp_logit_scale(self) -> None:
        """CLIP's clamp after every step: the logits are scaled by at most 100."""
        self.clip.logit_scale.clamp_(0, MAX_LOGIT_SCALE)

    def encoder_of(self, parameter_name: str) -> str:
        """Which encoder a parameter (named as in ``named_parameters``) belongs to."""
        if parameter_name.startswith("clip.visual."):
            return "image"
        if parameter_name in ("clip.logit_scale", "clip.logit_bias"):
            return "temperature"
        return "text"
