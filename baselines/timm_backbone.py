"""Baselines whose backbone is a timm model: full-size pretrained for the paper, tiny for the demo.

Two ways timm publishes weights, one loader for both: ``timm.create_model`` builds the model from
its pretrained config, then timm's own ``load_pretrained`` reads the config's weights, checked by
bench/train/checkpoint.py to fill every tensor (timm alone only warns about a foreign file):

- an ``arch.tag`` name (``vit_base_patch16_224.mae``): one ``model.safetensors`` in the Hub repo
  named by the tag's pretrained config; the architecture and preprocessing come from timm's
  registry. ``TimmBaseline`` points the config at the resolved file (``pretrained_cfg_overlay={"file": ...}``);
  ``--option weights_tag=TAG`` swaps the default tag for another of the same architecture.
- an ``hf_hub:owner/repo`` name: a Hub repo holding ``config.json`` (architecture, mean/std)
  beside the weights. ``TimmHubBaseline`` resolves the repo to a local folder and builds it with
  ``timm.create_model("local-dir:FOLDER")``, which reads that same config and weights as
  ``hf_hub:`` would, but from wherever bench/train/weights.py found them.
"""

from __future__ import annotations

import json
import sys
from abc import abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, cast

import timm
from torch import nn

from bench.api.errors import BenchError
from bench.api.method import BuildContext
from bench.api.profiles import Profile
from bench.api.weights import ResolvedWeights, WeightsChoice, WeightsSpec
from bench.train.checkpoint import checked_load, folder_weights_file, weights_fix
from bench.train.classifier import BackboneClassifier
from bench.train.preprocess import Preprocessing

WEIGHTS_TAG = "weights_tag"  # the --option that picks another timm pretrained tag


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


def load_checked(model: nn.Module, method: str, weights: ResolvedWeights, file: Path) -> nn.Module:
    """Load ``model``'s pretrained weights (from its pretrained config's file or folder) through
    timm's own ``load_pretrained``, with the checkpoint filter timm builds that architecture with
    (each model module's ``checkpoint_filter_fn``), and check that every tensor arrived."""
    filter_fn = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
    with checked_load(model, method, str(file), weights_fix(method, weights.identifier or method)):
        timm.models.load_pretrained(model, num_classes=0, filter_fn=filter_fn, strict=False)
    return model


class TimmBackbone(BackboneClassifier):
    """A timm backbone (``num_classes=0`` gives its pooled features) plus a linear head; the two
    kinds of timm name below say how the full-size model is found and built."""

    paper_model: ClassVar[str]  # the timm name of the paper's pretrained weights
    convolutional: ClassVar[bool] = False
    sized_input: ClassVar[bool] = False  # a ViT: built for the profile's image size (position embeddings)

    def tiny_backbone(self, image_size: int) -> nn.Module:
        """A scaled-down model of the same family for the demo profile (random init)."""
        raise NotImplementedError

    @abstractmethod
    def full_backbone(self, ctx: BuildContext, weights: ResolvedWeights, image_size: int) -> nn.Module:
        """The full-size model: pretrained from ``weights.path``, or randomly initialised."""

    @abstractmethod
    def reference_model(self) -> str:
        """The timm name whose pretrained config holds the full-size model's preprocessing."""

    def input_size(self, profile: Profile) -> int:
        """The side of the model's input images: the profile's image size unless the model needs
        another (a ViT/14 needs a multiple of 14)."""
        return profile.image_size

    def model_kwargs(self, image_size: int) -> dict[str, Any]:
        return {"img_size": image_size} if self.sized_input else {}

    def create_backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        size = self.input_size(ctx.profile)
        if ctx.profile.model_scale == "tiny":
            model = self.tiny_backbone(size)
            # A tiny model has no weights of its own: it takes the full-size model's normalisation.
            reference = timm.models.get_pretrained_cfg(self.reference_model())
            data_cfg = timm.data.resolve_data_config(pretrained_cfg=reference.to_dict() if reference else None)
        else:
            model = self.full_backbone(ctx, weights, size)
            data_cfg = timm.data.resolve_data_config(model=model)  # the loaded weights' own config
        prep = Preprocessing(
            image_size=size,
            mean=tuple(data_cfg["mean"]),
            std=tuple(data_cfg["std"]),
            channels_last=self.convolutional,
        )
        return model, cast(int, model.num_features), prep


class TimmBaseline(TimmBackbone):
    """A timm ``arch.tag`` model. ``paper_model`` is the default; ``--option weights_tag=TAG`` loads
    another of the architecture's published tags (``timm.list_pretrained("ARCH.*")``) instead."""

    known_options: ClassVar[Mapping[str, str]] = {
        WEIGHTS_TAG: "timm pretrained tag of the paper profile's weights (e.g. augreg_in1k; timm.list_pretrained)",
    }

    @property
    def architecture(self) -> str:
        return self.paper_model.partition(".")[0]

    def weights_choice(self, profile: Profile) -> WeightsChoice | None:
        """The SelectsWeights capability: every published tag of the architecture, the paper's first."""
        if profile.model_scale == "tiny":
            return None
        default = self.paper_model.partition(".")[2]
        others = sorted(name.partition(".")[2] for name in timm.list_pretrained(f"{self.architecture}.*"))
        return WeightsChoice(WEIGHTS_TAG, (default, *(tag for tag in others if tag != default)))

    def timm_name(self, profile: Profile, options: Mapping[str, str] | None) -> str:
        """The ``arch.tag`` a run loads: the paper's, or the one ``--option weights_tag`` names."""
        tag = (options or {}).get(WEIGHTS_TAG)
        if tag is None:
            return self.paper_model
        choice = self.weights_choice(profile)
        if choice is None:
            raise BenchError(
                f"--option {WEIGHTS_TAG} picks pretrained {self.architecture} weights; "
                f"the {profile.name} profile's tiny model has none",
                "drop the option, or run --profile paper",
            )
        if tag not in choice.tags:
            raise BenchError(
                f"timm has no pretrained tag {tag!r} for {self.architecture}",
                f"pass --option {WEIGHTS_TAG}=TAG with one of: {', '.join(choice.tags)}",
            )
        return f"{self.architecture}.{tag}"

    def weights_spec(self, profile: Profile, options: Mapping[str, str] | None = None) -> WeightsSpec | None:
        name = self.timm_name(profile, options)
        return None if profile.model_scale == "tiny" else timm_weights_spec(self.name, name)

    def full_backbone(self, ctx: BuildContext, weights: ResolvedWeights, image_size: int) -> nn.Module:
        overlay = {"file": weights.path} if weights.path else None
        model = timm.create_model(
            self.timm_name(ctx.profile, ctx.options),
            pretrained=False,
            pretrained_cfg_overlay=overlay,
            num_classes=0,
            **self.model_kwargs(image_size),
        )
        return load_checked(model, self.name, weights, Path(weights.path)) if weights.path else model

    def reference_model(self) -> str:
        return self.paper_model


class TimmHubBaseline(TimmBackbone):
    """A timm model published as an ``hf_hub:`` repo (config.json + weights); it takes no options.

    ``paper_model`` is the ``hf_hub:owner/repo`` name; ``architecture`` the timm architecture the
    repo's config.json builds (checked on load, and used for random init, where there is no config).
    """

    architecture: ClassVar[str]

    def weights_spec(self, profile: Profile, options: Mapping[str, str] | None = None) -> WeightsSpec | None:
        return None if profile.model_scale == "tiny" else timm_hub_weights_spec(self.name, self.paper_model)

    def reference_model(self) -> str:
        # timm's default config of the architecture: the same mean/std as the repo's config.json
        return self.architecture

    def full_backbone(self, ctx: BuildContext, weights: ResolvedWeights, image_size: int) -> nn.Module:
        kwargs = self.model_kwargs(image_size)
        if weights.init != "pretrained":
            return timm.create_model(self.architecture, pretrained=False, num_classes=0, **kwargs)
        fix = weights_fix(self.name, self.paper_model)
        config = Path(str(weights.path)) / "config.json"
        try:
            built = json.loads(config.read_text()).get("architecture")
        except (OSError, ValueError, AttributeError) as error:
            raise BenchError(f"{self.name}: {config} is not a timm config ({error})", fix) from error
        if built != self.architecture:
            raise BenchError(f"{self.name}: the config.json in {weights.path} builds {built}, not {self.architecture}",
                             fix)
        model = timm.create_model(f"local-dir:{weights.path}", pretrained=False, num_classes=0, **kwargs)
        return load_checked(model, self.name, weights, folder_weights_file(Path(str(weights.path))))
