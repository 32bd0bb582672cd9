"""The GalaxAlign network: an open_clip CLIP (image and text encoders, methods/clip/model.py) plus an
optional symbol encoder, and the two backbones of the paper."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from methods.clip.model import PICKLE_FILE, SAFETENSORS_FILE, ClipArch, ClipPair, register_configs
from methods.galaxalign import tiny_convnext

# The file each default tag's Hub repo really holds (checked on huggingface.co, see the issue note).
VIT16 = ClipArch("ViT-B-16", "laion2b_s34b_b88k", "galaxalign-tiny-vit", False, SAFETENSORS_FILE)
CONVNEXT = ClipArch("convnext_base", "laion400m_s13b_b51k", "galaxalign-tiny-convnext", True, PICKLE_FILE)

assert tiny_convnext.NAME  # imported for its timm registration, which the tiny ConvNeXt config builds on
register_configs(Path(__file__).parent / "configs", (VIT16.tiny_model, CONVNEXT.tiny_model))


class TriModalCLIP(ClipPair):
    """Image, text and (from stage 2 on) symbol encoders sharing one learned temperature.

    Until ``split_symbol_encoder`` is called, symbols go through the image encoder (stage 1).
    """

    symbol_visual: nn.Module | None

    def __init__(self, clip: nn.Module) -> None:
        super().__init__(clip)
        self.symbol_visual = None

    @property
    def has_symbol_encoder(self) -> bool:
        return self.symbol_visual is not None

    def split_symbol_encoder(self) -> None:
        """Stage 2 begins: the symbol encoder starts as a copy of the current image encoder."""
        self.symbol_visual = copy.deepcopy(self.clip.visual)

    def encode_symbol(self, symbols: torch.Tensor) -> torch.Tensor:
        encoder: nn.Module = self.symbol_visual if self.symbol_visual is not None else self.clip.visual
        return F.normalize(encoder(symbols), dim=-1)

    def no_weight_decay(self) -> set[str]:
        """open_clip's own list (position and class embeddings), for every encoder."""
        names = super().no_weight_decay()
        listed = getattr(self.symbol_visual, "no_weight_decay", None)
        if callable(listed):
            names |= {f"symbol_visual.{name}" for name in listed()}
        return names

    def encoder_of(self, parameter_name: str) -> str:
        """Which encoder a parameter (named as in ``named_parameters``) belongs to."""
        if parameter_name.startswith("symbol_visual."):
            return "symbol"
        return super().encoder_of(parameter_name)
