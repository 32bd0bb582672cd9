"""The shape shared by every baseline: a pretrained backbone with pooled features and a linear head."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from bench import metrics
from bench.data.base import GalaxyData
from bench.linear_probe import fit_linear_probe
from bench.method import BuildContext, FinetuneConfig, FitReport
from bench.preprocess import Preprocessing
from bench.profiles import Profile
from bench.train import Objective, batched_outputs, fit
from bench.weights import ResolvedWeights, WeightsSpec, for_run


class Classifier(nn.Module):
    """``backbone`` maps images to (N, D) pooled features; ``head`` maps those to class logits."""

    def __init__(self, backbone: nn.Module, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(num_features, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))


def weight_decay_groups(module: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups: no weight decay on biases and normalisation parameters."""
    decay = [p for p in module.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in module.parameters() if p.requires_grad and p.ndim <= 1]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class BackboneClassifier:
    """Method base for backbone + linear head models; subclasses only say how to build the backbone."""

    name: ClassVar[str]
    summary: ClassVar[str]
    variants: ClassVar[tuple[str, ...]] = ("default",)

    model: Classifier
    prep: Preprocessing
    device: torch.device

    def weights_spec(self, profile: Profile) -> WeightsSpec | None:
        raise NotImplementedError

    def default_config(self, profile: Profile) -> FinetuneConfig:
        raise NotImplementedError

    def create_backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        """(backbone returning pooled features, feature size, preprocessing), weights loaded."""
        raise NotImplementedError

    def build(self, ctx: BuildContext) -> ResolvedWeights:
        weights = for_run(self.name, self.weights_spec(ctx.profile), ctx.init, ctx.weights_file, ctx.weights_dir)
        backbone, num_features, self.prep = self.create_backbone(ctx, weights)
        self.device = ctx.device
        self.model = Classifier(backbone, num_features, ctx.num_classes).to(ctx.device)
        if self.prep.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        return weights

    def finetune(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> FitReport:
        if cfg.adapt == "linear":
            return fit_linear_probe(
                self.model.head, self._features, train, val, cfg, self.device, description=f"{self.name} probe"
            )

        def loss(images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"loss": F.cross_entropy(self.model(images), labels, label_smoothing=cfg.label_smoothing)}

        def score() -> float:
            assert val is not None
            return metrics.macro_f1(val.labels, self.predict(val).argmax(1), val.num_classes)

        objective = Objective(
            self.model, weight_decay_groups(self.model, cfg.weight_decay), loss, score if val is not None else None
        )
        return fit(objective, train, cfg, self.prep, self.device, description=self.name)

    def _features(self, data: GalaxyData) -> torch.Tensor:
        self.model.eval()
        return batched_outputs(self.model.backbone, data, self.prep, self.device, batch_size=256)

    def embed(self, data: GalaxyData) -> torch.Tensor:
        return F.normalize(self._features(data), dim=1)

    def predict(self, data: GalaxyData) -> torch.Tensor:
        self.model.eval()
        return batched_outputs(self.model, data, self.prep, self.device, batch_size=256)
