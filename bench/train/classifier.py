"""The shape shared by every baseline: a pretrained backbone with pooled features and a linear head."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from bench.api.data import GalaxyData
from bench.api.errors import BenchError
from bench.api.method import BuildContext, FinetuneConfig, FitReport, check_options
from bench.api.profiles import Profile
from bench.api.weights import ResolvedWeights, WeightsSpec
from bench.eval import metrics
from bench.train.linear_probe import fit_linear_probe
from bench.train.loop import FitCall, Objective, batched_outputs
from bench.train.preprocess import Preprocessing
from bench.train.weights import for_run, pretrained_copy


class Classifier(nn.Module):
    """``backbone`` maps images to (N, D) pooled features; ``head`` maps those to class logits.

    ``dropout`` acts on the pooled features before the head, in training mode only; its rate is
    the fine-tune's ``head_dropout`` (set by ``BackboneClassifier.finetune``).
    """

    def __init__(self, backbone: nn.Module, num_features: int, num_classes: int, head_dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(head_dropout)
        self.head = nn.Linear(num_features, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.backbone(images)))


def _no_weight_decay_names(module: nn.Module) -> set[str]:
    """Parameter names a model asks to keep out of weight decay (timm's ``no_weight_decay()``:
    position embeddings, class tokens)."""
    names = getattr(module, "no_weight_decay", None)
    return set(names()) if callable(names) else set()


def weight_decay_groups(module: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups: no weight decay on biases, normalisation parameters and the names
    the module lists in ``no_weight_decay()``."""
    skip = _no_weight_decay_names(module)
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, param in module.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 or name in skip else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def layer_decay_groups(backbone: nn.Module, weight_decay: float, layer_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups of ``backbone`` with layer-wise lr decay, as ``lr_scale`` per group.

    timm's ``param_groups_layer_decay`` splits the backbone by depth with the model's
    ``group_matcher()`` (the stem, then blocks or stages; the final norm joins the last one) and
    gives layer i of L the scale ``decay ** (L - 1 - i)``. A non-timm model gets the same
    treatment through a wrapper module that states its layout as a ``group_matcher()``.
    """
    from timm.optim import param_groups_layer_decay

    if not hasattr(backbone, "group_matcher"):
        raise BenchError(
            f"layer-wise lr decay needs a backbone that says its layer structure ({type(backbone).__name__} does not)",
            "drop the layer_decay setting for this method, or give its backbone a timm-style group_matcher()",
        )
    groups: list[dict[str, Any]] = param_groups_layer_decay(
        backbone, weight_decay, no_weight_decay_list=sorted(_no_weight_decay_names(backbone)), layer_decay=layer_decay
    )
    return groups


def parameter_groups(model: Classifier, cfg: FinetuneConfig) -> list[dict[str, Any]]:
    """The optimiser's parameter groups for full fine-tuning: weight decay as above, and with
    ``cfg.layer_decay`` each backbone group at its own learning rate ``cfg.lr * lr_scale``; the
    head always trains at ``cfg.lr``. Groups carry their ``lr``, which the warm-up + cosine
    schedule then scales, so the per-layer ratios hold throughout training."""
    head = [dict(group, lr=cfg.lr) for group in weight_decay_groups(model.head, cfg.weight_decay)]
    if cfg.layer_decay is None:
        backbone = [dict(group, lr=cfg.lr) for group in weight_decay_groups(model.backbone, cfg.weight_decay)]
    else:
        backbone = [
            {**{k: v for k, v in group.items() if k != "lr_scale"}, "lr": cfg.lr * group["lr_scale"]}
            for group in layer_decay_groups(model.backbone, cfg.weight_decay, cfg.layer_decay)
        ]
    return [group for group in head + backbone if group["params"]]


class BackboneClassifier(ABC):
    """Method base for backbone + linear head models: a subclass gives ``name``, ``summary`` (and
    ``variants``) and implements ``weights_spec``, ``default_config`` and ``create_backbone``; one
    that misses any is refused when it is registered. It has the TrainsObjectives capability.
    ``known_options`` are the ``--option`` keys it takes; any other key fails the build."""

    name: ClassVar[str]
    summary: ClassVar[str]
    variants: ClassVar[tuple[str, ...]] = ("default",)
    notes: ClassVar[str] = ""  # a caveat for leaderboards (e.g. pretraining that may overlap the test data)
    known_options: ClassVar[Mapping[str, str]] = {}  # --option KEY -> what it sets

    model: Classifier
    prep: Preprocessing
    device: torch.device

    @abstractmethod
    def weights_spec(self, profile: Profile, options: Mapping[str, str] | None = None) -> WeightsSpec | None:
        """Where the pretrained weights for ``profile`` and ``options`` live (None: the profile has none)."""

    @abstractmethod
    def default_config(self, profile: Profile) -> FinetuneConfig:
        """The fine-tuning hyperparameters under ``profile``."""

    @abstractmethod
    def create_backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        """(backbone returning pooled features, feature size, preprocessing), weights loaded."""

    def build(self, ctx: BuildContext) -> ResolvedWeights:
        check_options(self.name, ctx.options, self.known_options)
        spec = self.weights_spec(ctx.profile, ctx.options)
        weights = for_run(self.name, spec, ctx.init, ctx.weights_file, ctx.weights_dir)
        backbone, num_features, self.prep = self._backbone(ctx, weights)
        self.device = ctx.device
        self.model = Classifier(backbone, num_features, ctx.num_classes).to(ctx.device)
        if self.prep.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        return weights

    def _backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        """``create_backbone``; a pretrained one is loaded once per process and copied for later runs."""
        if weights.init != "pretrained":
            return self.create_backbone(ctx, weights)
        profile = (ctx.profile.name, ctx.profile.image_size, ctx.profile.model_scale)
        key = (type(self).__module__, type(self).__qualname__, profile, ctx.variant, tuple(sorted(ctx.options.items())))
        return pretrained_copy(weights, key, lambda: self.create_backbone(ctx, weights))

    def finetune(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> FitReport:
        if cfg.adapt == "linear":
            return fit_linear_probe(
                self.model.head, self._features, train, val, cfg, self.device, description=f"{self.name} probe"
            )
        if cfg.adapt != "full":
            raise BenchError(f"{self.name} has no {cfg.adapt} recipe", "run it with --adapt full or --adapt linear")
        [call] = self.objectives(train, val, cfg)
        return call.run()

    def objectives(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> list[FitCall]:
        """Full fine-tuning's one call of the shared loop: cross-entropy on the head's logits, early
        stopping on val macro-F1. A linear probe trains on cached features, outside the loop, and a
        library's own recipe (``--adapt zoobot``) in that library's trainer: none."""
        if cfg.adapt != "full":
            return []

        def loss(images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"loss": F.cross_entropy(self.model(images), labels, label_smoothing=cfg.label_smoothing)}

        def score() -> float:
            assert val is not None
            return metrics.macro_f1(val.labels, self.predict(val).argmax(1), val.num_classes)

        self.model.dropout.p = cfg.head_dropout
        objective = Objective(self.model, parameter_groups(self.model, cfg), loss, score if val is not None else None)
        return [FitCall(objective, train, cfg, self.prep, self.device, description=self.name)]

    def _features(self, data: GalaxyData) -> torch.Tensor:
        self.model.eval()
        return batched_outputs(self.model.backbone, data, self.prep, self.device, batch_size=256)

    def embed(self, data: GalaxyData) -> torch.Tensor:
        return F.normalize(self._features(data), dim=1)

    def predict(self, data: GalaxyData) -> torch.Tensor:
        self.model.eval()
        return batched_outputs(self.model, data, self.prep, self.device, batch_size=256)
