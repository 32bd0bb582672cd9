"""A ConvNeXt small enough for the demo profile on a laptop CPU, registered with timm so that
open_clip's timm vision tower (``timm_model_name`` in configs/galaxalign-tiny-convnext.json)
builds it like any timm model. Random init only: it has no published weights."""

from __future__ import annotations

from typing import Any

import timm
from timm.models import register_model
from torch import nn

NAME = "galaxalign_convnext_demo"
DEPTHS = (1, 1, 3, 1)
DIMS = (32, 64, 128, 256)


@register_model
def galaxalign_convnext_demo(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """ConvNeXt-atto's design (and timm config) with fewer blocks and narrower stages."""
    if pretrained:
        raise ValueError(f"{NAME} has no pretrained weights")
    for key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):
        kwargs.pop(key, None)
    return timm.create_model("convnext_atto", pretrained=False, depths=DEPTHS, dims=DIMS, **kwargs)
