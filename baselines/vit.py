"""ViT-Base baselines loaded through timm: supervised ViT-B/16, MAE ViT-B/16, DINOv2 ViT-B/14.

All are built for the profile's image size (``img_size=``: timm resamples the checkpoint's
position embeddings, e.g. DINOv2's 37 x 37 grid for 518 px down to 16 x 16 for 224 px). The
embedding is the CLS token after the final norm (timm's ``global_pool="token"``, the default of
all three). MSN, which timm does not publish, is in baselines/msn.py.

The supervised ViT-B/16 is the one Lastufka et al. (whom the paper follows for its baselines) load
as ``google/vit-base-patch16-224``: the original ImageNet-21k pretraining fine-tuned on ImageNet-1k,
timm's ``vit_base_patch16_224.orig_in21k_ft_in1k`` (mean/std 0.5). ``--option weights_tag=TAG``
loads another published tag of the architecture, e.g. ``augreg_in1k`` (AugReg, ImageNet-1k only).
"""

from __future__ import annotations

from typing import Any

from timm.models.vision_transformer import VisionTransformer
from torch import nn

from baselines import cards
from baselines.protocol import profile_config
from baselines.timm_backbone import TimmBaseline
from bench.api.method import FinetuneConfig, implements
from bench.api.profiles import Profile
from bench.train.linear_probe import LASTUFKA_LR

# The demo's tiny ViT: ViT-B's layout (pre-norm blocks, CLS token, learned position embeddings)
# scaled from 768 wide x 12 deep to 96 x 3.
TINY_VIT: dict[str, Any] = {"embed_dim": 96, "depth": 3, "num_heads": 3}


def lastufka_vit_config(profile: Profile) -> FinetuneConfig:
    """Lastufka et al.'s training settings for ViTs (fm4astro finetune.py through the HF Trainer):
    AdamW at lr 5e-5 with the Trainer's default weight decay of 0, no layer decay, no dropout
    before the classifier. Their scripts train the DINOv2 / MSN / MAE classifiers with the
    backbone frozen (``--freeze_backbone``); the benchmark's default is full fine-tuning, as the
    GalaxAlign paper says "fine-tuned", and ``--adapt linear`` gives the frozen-backbone variant."""
    return profile_config(profile, lr=LASTUFKA_LR, weight_decay=0.0)


class _ViTB16(TimmBaseline):
    """ViT-B/16 at the profile's image size; a tiny patch-8 ViT for the demo."""

    sized_input = True

    def tiny_backbone(self, image_size: int) -> nn.Module:
        return VisionTransformer(img_size=image_size, patch_size=8, num_classes=0, **TINY_VIT)

    def default_config(self, profile: Profile) -> FinetuneConfig:
        # The paper fine-tunes the self-supervised ViTs "following Lastufka et al."; our choice
        # is to fine-tune the supervised ViT-B/16 the same way, so the ViTs differ only in their
        # pretraining.
        return lastufka_vit_config(profile)


@implements(cards.VIT16)
class ViT16(_ViTB16):
    paper_model = "vit_base_patch16_224.orig_in21k_ft_in1k"


@implements(cards.MAE)
class MAE(_ViTB16):
    paper_model = "vit_base_patch16_224.mae"

    def default_config(self, profile: Profile) -> FinetuneConfig:
        return lastufka_vit_config(profile)  # the paper: self-supervised ViTs fine-tuned as Lastufka et al.


@implements(cards.DINOV2)
class DINOv2(TimmBaseline):
    paper_model = "vit_base_patch14_dinov2.lvd142m"
    sized_input = True
    patch_size = 14

    def input_size(self, profile: Profile) -> int:
        # Patches of 14 px must tile the image: the multiple of 14 nearest the profile's size
        # (224 = 16 x 14 for the paper; 70 = 5 x 14 for the demo's 64 px).
        return max(1, round(profile.image_size / self.patch_size)) * self.patch_size

    def tiny_backbone(self, image_size: int) -> nn.Module:
        # DINOv2's ViT: patch 14, LayerScale (init 1e-5), a CLS token and no register tokens.
        return VisionTransformer(
            img_size=image_size, patch_size=self.patch_size, init_values=1e-5, num_classes=0, **TINY_VIT
        )

    def default_config(self, profile: Profile) -> FinetuneConfig:
        return lastufka_vit_config(profile)  # the paper: self-supervised ViTs fine-tuned as Lastufka et al.
