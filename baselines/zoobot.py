"""Zoobot encoders (Walmsley et al.): ConvNeXt-Base and MaxViT-Base pretrained on Galaxy Zoo.

The encoders are pretrained on GZ Evo, Galaxy Zoo's volunteer labels of several surveys, GZ
DECaLS among them (the paper's Table 1 names GZ DECaLS GZD-5). Galaxy10 DECaLS and GalaxyMNIST
are both cut from DECaLS / Galaxy Zoo DECaLS images, so galaxies of their test splits may have
been seen, with labels, in this pretraining: the ``notes`` of both plugins say so on every
leaderboard.

Loading. The encoders are published as timm ``hf_hub:`` repos, ``config.json`` (architecture,
mean/std) beside ``pytorch_model.bin``:

- ``hf_hub:mwalmsley/zoobot-encoder-convnext_base``: ``convnext_base``, ImageNet mean/std,
  1024 features.
- ``hf_hub:mwalmsley/zoobot-encoder-maxvit_base_rw_224``: despite the repo name, the config
  builds ``maxvit_rmlp_base_rw_224`` (MaxViT-Base, relative-position MLP), mean/std 0.5, and
  768 features from its pre-logits MLP head.

We load them through timm rather than the zoobot package. zoobot 2.9.0 builds its encoder from a
name as ``timm.create_model("hf_hub:...", num_classes=0, pretrained=True)``, which always goes to the
Hub cache; timm's ``local-dir:`` source reads the same config and weights from the folder
bench/train/weights.py resolved (explicit path, weights dir, cache or download).

Training. ``--adapt full`` (the default) trains the encoder in the shared bench loop with Zoobot's own
optimiser defaults (baselines/protocol.py); ``--adapt linear`` fits a head on its frozen features.
``--adapt zoobot`` hands the encoder to zoobot's own ``FinetuneableZoobotClassifier`` (``encoder=``)
and trainer: baselines/zoobot_recipe.py, imported only then (zoobot takes 10-15 s to import).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from timm.models.convnext import ConvNeXt
from timm.models.maxxvit import MaxxVit, model_cfgs
from torch import nn

from baselines import cards
from baselines.protocol import (
    ZOOBOT_HEAD_DROPOUT,
    ZOOBOT_LAYER_DECAY,
    ZOOBOT_LR,
    ZOOBOT_WEIGHT_DECAY,
    profile_config,
    zoobot_recipe_config,
)
from baselines.timm_backbone import TimmHubBaseline
from bench.api.data import GalaxyData
from bench.api.method import FinetuneConfig, FitReport, implements
from bench.api.profiles import Profile

LEAKAGE_NOTE = (
    "Zoobot's encoders were pretrained on Galaxy Zoo labels that include DECaLS galaxies, so some "
    "Galaxy10 DECaLS and GalaxyMNIST test galaxies may have been seen in pretraining."
)


class _Zoobot(TimmHubBaseline):
    notes: ClassVar[str] = LEAKAGE_NOTE
    convolutional = True

    def default_config(self, profile: Profile) -> FinetuneConfig:
        # Zoobot's own fine-tuning defaults (FinetuneableZoobotAbstract in zoobot 2.9.0).
        return profile_config(
            profile,
            lr=ZOOBOT_LR,
            weight_decay=ZOOBOT_WEIGHT_DECAY,
            layer_decay=ZOOBOT_LAYER_DECAY,
            head_dropout=ZOOBOT_HEAD_DROPOUT,
        )

    def zoobot_config(self, profile: Profile) -> FinetuneConfig:
        """``--adapt zoobot``: the settings of zoobot's own recipe (the TrainsZoobotRecipe capability)."""
        return zoobot_recipe_config(profile)

    def finetune(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> FitReport:
        if cfg.adapt != "zoobot":
            return super().finetune(train, val, cfg)
        from baselines.zoobot_recipe import finetune_with_zoobot

        return finetune_with_zoobot(self.model, train, val, cfg, self.prep, self.device, description=self.name)


@implements(cards.ZOOBOT_CONVNEXT)
class ZoobotConvNeXt(_Zoobot):
    paper_model = "hf_hub:mwalmsley/zoobot-encoder-convnext_base"
    architecture = "convnext_base"

    def tiny_backbone(self, image_size: int) -> nn.Module:
        # ConvNeXt-Base's design (patchify stem, 7x7 depthwise blocks, LayerScale) at depths
        # 3-3-27-3 -> 1-1-1-1 and widths 128..1024 -> 16..128.
        return ConvNeXt(depths=(1, 1, 1, 1), dims=(16, 32, 64, 128), num_classes=0)


@implements(cards.ZOOBOT_MAXVIT)
class ZoobotMaxViT(_Zoobot):
    paper_model = "hf_hub:mwalmsley/zoobot-encoder-maxvit_base_rw_224"
    architecture = "maxvit_rmlp_base_rw_224"
    sized_input = True  # window / grid attention partitions depend on the input size

    def tiny_backbone(self, image_size: int) -> nn.Module:
        # timm's own maxvit_rmlp_base_rw config (MBConv + block + grid attention, rel-pos MLP,
        # pre-logits head) at depths 2-6-14-2 -> 1-1-1-1 and widths 96..768 -> 16..128.
        base = model_cfgs["maxvit_rmlp_base_rw"]
        cfg = dataclasses.replace(
            base,
            embed_dim=(16, 32, 64, 128),
            depths=(1, 1, 1, 1),
            stem_width=(8, 16),
            head_hidden_size=128,
            transformer_cfg=dataclasses.replace(base.transformer_cfg, dim_head=16),
        )
        return MaxxVit(cfg, img_size=image_size, num_classes=0)
