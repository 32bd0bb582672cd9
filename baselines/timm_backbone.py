"""Baselines whose backbone is a timm model: full-size pretrained for the paper, tiny for the demo."""

from __future__ import annotations

from typing import ClassVar

import timm
from torch import nn

from bench.classifier import BackboneClassifier
from bench.method import BuildContext
from bench.preprocess import Preprocessing
from bench.profiles import Profile
from bench.weights import ResolvedWeights, WeightsSpec


def timm_weights_spec(method: str, model_name: str) -> WeightsSpec:
    """Where timm publishes ``model_name`` (an ``arch.tag`` name) on the Hugging Face Hub."""
    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None or not cfg.hf_hub_id:
        raise ValueError(f"timm has no published weights for {model_name}")
    stem = model_name.replace("/", "--")
    return WeightsSpec(
        method=method,
        identifier=f"timm/{model_name}",
        hub_repo=cfg.hf_hub_id,
        hub_filename="model.safetensors",
        local_names=(f"{method}.safetensors", f"{stem}.safetensors", f"{method}.pth", f"{stem}.pth"),
    )


class TimmBaseline(BackboneClassifier):
    """A timm backbone (``num_classes=0`` gives its pooled features) plus a linear head."""

    paper_model: ClassVar[str]  # exact timm ``arch.tag`` of the paper's pretrained weights
    convolutional: ClassVar[bool] = False

    def tiny_backbone(self) -> nn.Module:
        """A scaled-down model of the same family for the demo profile (random init)."""
        raise NotImplementedError

    def weights_spec(self, profile: Profile) -> WeightsSpec | None:
        return None if profile.model_scale == "tiny" else timm_weights_spec(self.name, self.paper_model)

    def create_backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        if ctx.profile.model_scale == "tiny":
            model = self.tiny_backbone()
        else:
            overlay = {"file": weights.path} if weights.path else None
            model = timm.create_model(
                self.paper_model,
                pretrained=weights.init == "pretrained",
                pretrained_cfg_overlay=overlay,
                num_classes=0,
            )
        data_cfg = timm.data.resolve_data_config(model=model)
        prep = Preprocessing(
            image_size=ctx.profile.image_size,
            mean=tuple(data_cfg["mean"]),
            std=tuple(data_cfg["std"]),
            channels_last=self.convolutional,
        )
        return model, model.num_features, prep
