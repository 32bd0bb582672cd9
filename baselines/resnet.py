"""Supervised ImageNet-1k ResNets (He et al. 2016), as in the GalaxAlign paper's Table 1."""

from __future__ import annotations

from timm.models.resnet import BasicBlock, ResNet
from torch import nn

from baselines.timm_backbone import TimmBaseline
from bench.method import FinetuneConfig
from bench.profiles import Profile


class ResNet18(TimmBaseline):
    name = "resnet18"
    summary = "ResNet-18, supervised ImageNet-1k (torchvision weights via timm)"
    paper_model = "resnet18.tv_in1k"
    convolutional = True

    def tiny_backbone(self) -> nn.Module:
        return ResNet(BasicBlock, (1, 1, 1, 1), channels=(32, 64, 128, 256), stem_width=32, num_classes=0)

    def default_config(self, profile: Profile) -> FinetuneConfig:
        # Full fine-tuning with AdamW, as Zoobot and Lastufka et al. (2024) fine-tune; a higher rate
        # for the tiny random-init demo model, which has nothing pretrained to preserve.
        lr = 1e-3 if profile.model_scale == "tiny" else 1e-4
        return FinetuneConfig(
            epochs=profile.epochs,
            batch_size=profile.batch_size,
            lr=lr,
            weight_decay=0.05,
            patience=profile.patience,
        )
