"""Baselines whose backbone is a timm model: full-size pretrained for the paper, tiny for the demo.

Two ways timm publishes weights, one loader (``timm.create_model``) for both:

- an ``arch.tag`` name (``vit_base_patch16_224.mae``): one ``model.safetensors`` in the Hub repo
  named by the tag's pretrained config; the architecture and preprocessing come from timm's
  registry. ``TimmBaseline`` loads the resolved file with ``pretrained_cfg_overlay={"file": ...}``.
- an ``hf_hub:owner/repo`` name: a Hub repo holding ``config.json`` (architecture, mean/std)
  beside the weights. ``TimmHubBaseline`` resolves the repo to a local folder and loads it with
  ``timm.create_model("local-dir:FOLDER")``, which reads that same config and weights as
  ``hf_hub:`` would, but from wherever bench/train/weights.py found them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, cast

import timm
from torch import nn

from bench.api.errors import BenchError
from bench.api.method import BuildContext
from bench.api.profiles import Profile
from bench.api.weights import ResolvedWeights, WeightsSpec
from bench.train.classifier import BackboneClassifier
from bench.train.preprocess import Preprocessing


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


def timm_hub_weights_spec(method: str, hub_name: str) -> WeightsSpec:
    """Where a timm ``hf_hub:owner/repo`` model lives: its repo's config.json beside the weights.

    timm's ``hf_hub:`` loader reads ``model.safetensors`` when the repo has one and
    ``pytorch_model.bin`` otherwise; repos written by ``timm.models.push_to_hf_hub`` before
    safetensors (Zoobot's among them) hold only ``pytorch_model.bin``, so that is the file fetched,
    and a folder holding ``model.safetensors`` instead is accepted too.
    """
    repo = hub_name.removeprefix("hf_hub:")
    return WeightsSpec(
        method=method,
        identifier=hub_name,
        hub_repo=repo,
        hub_filename="pytorch_model.bin",
        local_names=(method, repo.split("/")[-1]),
        hub_config_files=("config.json",),
        weights_aliases=("model.safetensors",),
    )


class TimmBaseline(BackboneClassifier):
    """A timm backbone (``num_classes=0`` gives its pooled features) plus a linear head."""

    paper_model: ClassVar[str]  # exact timm ``arch.tag`` of the paper's pretrained weights
    convolutional: ClassVar[bool] = False
    sized_input: ClassVar[bool] = False  # a ViT: built for the profile's image size (position embeddings)

    def tiny_backbone(self, image_size: int) -> nn.Module:
        """A scaled-down model of the same family for the demo profile (random init)."""
        raise NotImplementedError

    def input_size(self, profile: Profile) -> int:
        """The side of the model's input images: the profile's image size unless the model needs
        another (a ViT/14 needs a multiple of 14)."""
        return profile.image_size

    def weights_spec(self, profile: Profile) -> WeightsSpec | None:
        return None if profile.model_scale == "tiny" else timm_weights_spec(self.name, self.paper_model)

    def model_kwargs(self, image_size: int) -> dict[str, Any]:
        return {"img_size": image_size} if self.sized_input else {}

    def full_backbone(self, weights: ResolvedWeights, image_size: int) -> nn.Module:
        """The full-size model: pretrained from ``weights.path``, or randomly initialised."""
        overlay = {"file": weights.path} if weights.path else None
        return timm.create_model(
            self.paper_model,
            pretrained=weights.init == "pretrained",
            pretrained_cfg_overlay=overlay,
            num_classes=0,
            **self.model_kwargs(image_size),
        )

    def reference_model(self) -> str:
        """The timm name whose pretrained config holds the full-size model's preprocessing."""
        return self.paper_model

    def create_backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        size = self.input_size(ctx.profile)
        if ctx.profile.model_scale == "tiny":
            model = self.tiny_backbone(size)
            # A tiny model has no weights of its own: it takes the full-size model's normalisation.
            reference = timm.models.get_pretrained_cfg(self.reference_model())
            data_cfg = timm.data.resolve_data_config(pretrained_cfg=reference.to_dict() if reference else None)
        else:
            model = self.full_backbone(weights, size)
            data_cfg = timm.data.resolve_data_config(model=model)  # the loaded weights' own config
        prep = Preprocessing(
            image_size=size,
            mean=tuple(data_cfg["mean"]),
            std=tuple(data_cfg["std"]),
            channels_last=self.convolutional,
        )
        return model, cast(int, model.num_features), prep


class TimmHubBaseline(TimmBaseline):
    """A timm model published as an ``hf_hub:`` repo (config.json + weights).

    ``paper_model`` is the ``hf_hub:owner/repo`` name; ``architecture`` the timm architecture the
    repo's config.json builds (checked on load, and used for random init, where there is no config).
    """

    architecture: ClassVar[str]

    def weights_spec(self, profile: Profile) -> WeightsSpec | None:
        return None if profile.model_scale == "tiny" else timm_hub_weights_spec(self.name, self.paper_model)

    def reference_model(self) -> str:
        # timm's default config of the architecture: the same mean/std as the repo's config.json
        return self.architecture

    def full_backbone(self, weights: ResolvedWeights, image_size: int) -> nn.Module:
        kwargs = self.model_kwargs(image_size)
        if weights.init != "pretrained":
            return timm.create_model(self.architecture, pretrained=False, num_classes=0, **kwargs)
        fix = f"point --weights {self.name}= / BENCH_WEIGHTS_DIR at the files of {self.paper_model}"
        config = Path(str(weights.path)) / "config.json"
        try:
            built = json.loads(config.read_text()).get("architecture")
        except (OSError, ValueError, AttributeError) as error:
            raise BenchError(f"{self.name}: {config} is not a timm config ({error})", fix) from error
        if built != self.architecture:
            raise BenchError(f"{self.name}: the config.json in {weights.path} builds {built}, not {self.architecture}",
                             fix)
        try:
            return timm.create_model(f"local-dir:{weights.path}", pretrained=True, num_classes=0, **kwargs)
        except Exception as error:  # torch, safetensors and timm raise many types for unreadable or mismatched weights
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise BenchError(
                f"{self.name}: the weights in {weights.path} cannot be loaded ({type(error).__name__}: {reason})", fix
            ) from error
