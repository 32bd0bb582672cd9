"""MSN ViT-B/16 (Assran et al. 2022, masked siamese networks on ImageNet-1k) through transformers.

timm does not publish MSN weights; the authors' ViT-B/16 is on the Hugging Face Hub as
``facebook/vit-msn-base`` (config.json, preprocessor_config.json, pytorch_model.bin), loaded
with transformers' ``ViTMSNModel.from_pretrained`` from the folder bench/train/weights.py resolves.
The embedding is the CLS token of ``last_hidden_state``, which ViTMSNModel returns after its
final layernorm. transformers is imported only when a model is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from baselines import cards
from baselines.vit import TINY_VIT, lastufka_vit_config
from bench.api.method import BuildContext, FinetuneConfig, implements
from bench.api.profiles import Profile
from bench.api.weights import ResolvedWeights, WeightsSpec
from bench.train.checkpoint import folder_weights_file, reading, require_all, weights_fix
from bench.train.classifier import BackboneClassifier
from bench.train.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessing

HUB_REPO = "facebook/vit-msn-base"


class MSNBackbone(nn.Module):
    """A transformers ViTMSNModel as a backbone: images -> (N, hidden_size) CLS features.

    It also states the model's layer structure the way timm models do (``group_matcher``,
    ``no_weight_decay``), so that the shared classifier code applies layer-wise lr decay and
    weight decay to it exactly as to a timm ViT: embeddings, then each encoder layer, then the
    final layernorm.
    """

    def __init__(self, model: Any, image_size: int) -> None:
        super().__init__()
        self.model = model
        self.num_features: int = model.config.hidden_size
        # Position embeddings are learnt for config.image_size; other sizes interpolate them.
        self.interpolate_pos_encoding = image_size != model.config.image_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        output = self.model(pixel_values=images, interpolate_pos_encoding=self.interpolate_pos_encoding)
        cls: torch.Tensor = output.last_hidden_state[:, 0]
        return cls

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        # transformers 5 names the layers ``layers.i``; 4.x named them ``encoder.layer.i``.
        return {
            "stem": r"^model\.embeddings",
            "blocks": [(r"^model\.(?:encoder\.layer|layers)\.(\d+)", None), (r"^model\.layernorm", (99999,))],
        }

    def no_weight_decay(self) -> set[str]:
        return {"model.embeddings.cls_token", "model.embeddings.position_embeddings"}


@implements(cards.MSN)
class MSN(BackboneClassifier):

    def weights_spec(self, profile: Profile, options: Mapping[str, str] | None = None) -> WeightsSpec | None:
        if profile.model_scale == "tiny":
            return None
        return WeightsSpec(
            method=self.name,
            identifier=HUB_REPO,
            hub_repo=HUB_REPO,
            hub_filename="pytorch_model.bin",  # the repo has no safetensors file
            local_names=(self.name, HUB_REPO.split("/")[-1]),
            hub_config_files=("config.json", "preprocessor_config.json"),
            weights_aliases=("model.safetensors",),  # what save_pretrained writes
        )

    def default_config(self, profile: Profile) -> FinetuneConfig:
        return lastufka_vit_config(profile)  # the paper: self-supervised ViTs fine-tuned as Lastufka et al.

    def create_backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        from transformers import ViTMSNConfig, ViTMSNModel

        size = ctx.profile.image_size
        mean: tuple[float, ...] = IMAGENET_MEAN  # MSN's training normalisation, for random init
        std: tuple[float, ...] = IMAGENET_STD
        model: Any
        if ctx.profile.model_scale == "tiny":
            config = ViTMSNConfig(
                image_size=size,
                patch_size=8,
                hidden_size=TINY_VIT["embed_dim"],
                num_hidden_layers=TINY_VIT["depth"],
                num_attention_heads=TINY_VIT["num_heads"],
                intermediate_size=4 * TINY_VIT["embed_dim"],
            )
            model = ViTMSNModel(config)
        elif weights.init == "pretrained":
            assert weights.path is not None
            model = self._from_pretrained(weights.path)
            mean, std = self._normalisation(weights.path)
        else:
            model = ViTMSNModel(ViTMSNConfig(image_size=size))  # the config's defaults are vit-msn-base's
        backbone = MSNBackbone(model, size)
        return backbone, backbone.num_features, Preprocessing(image_size=size, mean=mean, std=std)

    def _from_pretrained(self, folder: str) -> Any:
        """ViTMSNModel from ``folder``; BenchError unless every weight came from its file (with
        ``ignore_mismatched_sizes`` transformers reports tensors of another shape instead of
        raising; it would fill them, and missing ones, with random values: never silently)."""
        from transformers import ViTMSNModel

        fix = weights_fix(self.name, HUB_REPO)
        file = str(folder_weights_file(Path(folder)))
        with reading(self.name, file, fix):
            loaded: Any = ViTMSNModel.from_pretrained(folder, output_loading_info=True, ignore_mismatched_sizes=True)
        model, info = loaded
        mismatched = [f"{key}: file {tuple(saved)}, model {tuple(built)}" for key, saved, built in
                      sorted(info.get("mismatched_keys", []))]
        missing = sorted(info.get("missing_keys", []))
        require_all(self.name, file, len(model.state_dict()), missing, mismatched, fix)
        return model

    @staticmethod
    def _normalisation(folder: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Mean and std from the checkpoint's own preprocessor_config.json."""
        from transformers import AutoImageProcessor

        processor = AutoImageProcessor.from_pretrained(folder)
        return tuple(processor.image_mean), tuple(processor.image_std)
