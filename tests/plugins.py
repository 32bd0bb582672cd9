"""A third-party method package, as another project would write one (used through a dist-info on sys.path)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from bench.api.method import BuildContext, FinetuneConfig
from bench.api.profiles import Profile
from bench.api.weights import ResolvedWeights, WeightsSpec
from bench.train.classifier import BackboneClassifier
from bench.train.preprocess import Preprocessing


class TinyConvNet(BackboneClassifier):
    name = "tiny-convnet"
    summary = "a two-layer CNN from a plugin package"
    notes = "pretrained on the test set (a caveat the leaderboard must show)"

    def weights_spec(self, profile: Profile, options: Mapping[str, str] | None = None) -> WeightsSpec | None:
        return None

    def default_config(self, profile: Profile) -> FinetuneConfig:
        return FinetuneConfig(epochs=1, batch_size=32, lr=1e-3, weight_decay=0.0)

    def create_backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        return backbone, 16, Preprocessing(image_size=32)


class ExplodingNet(TinyConvNet):
    """Its outputs become NaN: the training loop must stop with a clear error."""

    name = "exploding-net"
    summary = "produces NaN logits"

    def create_backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        backbone, size, prep = super().create_backbone(ctx, weights)
        return nn.Sequential(backbone, _TimesNaN()), size, prep


class _TimesNaN(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


class NoBackbone(BackboneClassifier):
    """Forgets ``create_backbone``: registering it must fail with one line."""

    name = "no-backbone"
    summary = "a plugin that does not say how to build its backbone"

    def weights_spec(self, profile: Profile, options: Mapping[str, str] | None = None) -> WeightsSpec | None:
        return None

    def default_config(self, profile: Profile) -> FinetuneConfig:
        return FinetuneConfig(epochs=1, batch_size=32, lr=1e-3, weight_decay=0.0)
