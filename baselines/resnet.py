"""Supervised ImageNet-1k ResNets (He et al. 2016), as in the GalaxAlign paper's Table 1.

The paper fine-tunes its baselines following Lastufka et al., whose code (fm4astro) builds both
with torchvision's ``weights='DEFAULT'``: IMAGENET1K_V1 for ResNet-18 (timm's ``resnet18.tv_in1k``)
and IMAGENET1K_V2 for ResNet-50 (``resnet50.tv2_in1k``, torchvision's 2021 recipe), as timm
republishes them (ImageNet mean/std). ``--option weights_tag=tv_in1k`` gives ResNet-50 the original
V1 weights. The embedding is the global-average-pooled last stage (512 / 2048).
"""

from __future__ import annotations

from timm.models.resnet import BasicBlock, Bottleneck, ResNet
from torch import nn

from baselines import cards
from baselines.protocol import ZOOBOT_LR, ZOOBOT_WEIGHT_DECAY, profile_config
from baselines.timm_backbone import TimmBaseline
from bench.api.method import FinetuneConfig, implements
from bench.api.profiles import Profile


class _ResNetBaseline(TimmBaseline):
    convolutional = True

    def default_config(self, profile: Profile) -> FinetuneConfig:
        # The paper and Lastufka et al. give no ResNet fine-tuning settings (fm4astro's ResNet
        # runs are linear probes or from scratch). Our choice: Zoobot's lr and weight decay,
        # without its layer decay and head dropout, so that the supervised CNNs are fine-tuned
        # the way the domain-pretrained CNN (Zoobot ConvNeXt) is, minus Zoobot's own extras.
        return profile_config(profile, lr=ZOOBOT_LR, weight_decay=ZOOBOT_WEIGHT_DECAY)


@implements(cards.RESNET18)
class ResNet18(_ResNetBaseline):
    paper_model = "resnet18.tv_in1k"

    def tiny_backbone(self, image_size: int) -> nn.Module:
        return ResNet(BasicBlock, (1, 1, 1, 1), channels=(32, 64, 128, 256), stem_width=32, num_classes=0)  # type: ignore[arg-type]


@implements(cards.RESNET50)
class ResNet50(_ResNetBaseline):
    paper_model = "resnet50.tv2_in1k"

    def tiny_backbone(self, image_size: int) -> nn.Module:
        # Bottleneck blocks (1x1 - 3x3 - 1x1, 4x expansion) as in ResNet-50, one per stage.
        return ResNet(Bottleneck, (1, 1, 1, 1), channels=(16, 32, 64, 128), stem_width=16, num_classes=0)  # type: ignore[arg-type]
