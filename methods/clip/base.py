"""What every open_clip method of the bench shares: the profile's CLIP built from the weights chain, its
preprocessing and tokenizer, image and text embeddings, and one-file checkpoints (``ClipBase``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import open_clip
import torch

from bench.api.data import GalaxyData
from bench.api.errors import BenchError
from bench.api.method import BuildContext
from bench.api.profiles import Profile
from bench.api.weights import RANDOM_INIT, ResolvedWeights, WeightsSpec
from bench.train.loop import autocast, batched_outputs
from bench.train.preprocess import Preprocessing
from bench.train.weights import for_run, pretrained_copy
from methods.clip.model import ClipArch, ClipPair, clip_weights_spec, create_clip, known_tags, pretrained_cfg


class ClipBase:
    """The shared half of a CLIP method; a subclass says its ``arch``, its ``network`` (the module that
    wraps the CLIP), the ``title`` its saved models go by and their ``checkpoint_format``, and where its
    ``--option clip_tag`` is (``clip_tag``)."""

    name: ClassVar[str]
    summary: ClassVar[str]
    variants: ClassVar[tuple[str, ...]]
    arch: ClassVar[ClipArch]
    network: ClassVar[type[ClipPair]] = ClipPair
    title: ClassVar[str]  # e.g. "GalaxAlign", in the errors about saved models
    checkpoint_format: ClassVar[str]

    model: ClipPair
    prep: Preprocessing
    device: torch.device
    model_name: str
    quick_gelu: bool
    weights: ResolvedWeights
    tokenizer: Any
    eval_batch_size: int = 256

    def clip_tag(self, options: Mapping[str, str]) -> str | None:
        """The open_clip tag the run's ``--option`` settings ask for (checking them); None: the default."""
        raise NotImplementedError

    def weights_spec(self, profile: Profile, options: Mapping[str, str] | None = None) -> WeightsSpec | None:
        if profile.model_scale == "tiny":
            return None
        tag = self.clip_tag(dict(options or {})) or self.arch.default_tag
        return clip_weights_spec(self.name, self.arch, tag)  # an unknown tag fails here

    def build_clip(self, ctx: BuildContext, clip_tag: str | None, pretrained: bool = True) -> str:
        """Build the profile's CLIP (the tiny config from random init, or ``arch.paper_model`` with tag
        ``clip_tag`` or the default, resolved through the weights chain; random init whatever the run's
        init when not ``pretrained``) wrapped in ``network``, with its preprocessing and tokenizer;
        returns the tag."""
        tiny = ctx.profile.model_scale == "tiny"
        self.model_name = self.arch.tiny_model if tiny else self.arch.paper_model
        tag = clip_tag or self.arch.default_tag
        if clip_tag and tiny:
            raise BenchError(
                f"--option clip_tag applies to the paper profile's pretrained {self.arch.paper_model}",
                f"drop the option, or run --profile paper (tags: {', '.join(known_tags(self.arch.paper_model))})",
            )
        tag_cfg = {} if tiny else pretrained_cfg(self.model_name, tag)  # an unknown tag fails here
        if not pretrained:
            weights = RANDOM_INIT
        else:
            spec = None if tiny else clip_weights_spec(self.name, self.arch, tag)
            weights = for_run(self.name, spec, ctx.init, ctx.weights_file, ctx.weights_dir)
        self.quick_gelu = weights.init == "pretrained" and bool(tag_cfg.get("quick_gelu"))  # e.g. OpenAI's tags

        def build() -> Any:
            return create_clip(self.model_name, ctx.profile.image_size, self.name, weights, self.quick_gelu)

        key = (self.model_name, ctx.profile.image_size, self.quick_gelu)
        clip = pretrained_copy(weights, key, build) if weights.init == "pretrained" else build()
        self.device = ctx.device
        self._install(self.network(clip))
        preprocess_cfg = tag_cfg if weights.init == "pretrained" else clip.visual.preprocess_cfg
        self.prep = self.preprocessing(ctx.profile.image_size, tuple(preprocess_cfg["mean"]),
                                       tuple(preprocess_cfg["std"]))
        self.tokenizer = open_clip.get_tokenizer(self.model_name)
        self.weights = weights
        return tag

    def preprocessing(self, image_size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> Preprocessing:
        """The model's input convention (its weights' size and normalisation) and its augmentation."""
        return Preprocessing(image_size, mean, std, channels_last=self.arch.convolutional)

    def _install(self, model: ClipPair) -> None:
        self.model = model.to(self.device)
        if self.arch.convolutional:
            self.model = self.model.to(memory_format=torch.channels_last)

    # --- embeddings (Method.embed, EmbedsText) --------------------------------------------

    def embed(self, data: GalaxyData) -> torch.Tensor:
        """The image encoder's projected, L2-normalised embeddings."""
        self.model.eval()
        return batched_outputs(self.model.encode_image, data, self.prep, self.device, self.eval_batch_size)

    def _tokens(self, texts: list[str]) -> torch.Tensor:
        tokens: torch.Tensor = self.tokenizer(texts)
        return tokens.to(self.device)

    @torch.inference_mode()
    def embed_text(self, texts: list[str]) -> torch.Tensor:
        """(len(texts), D) L2-normalised text embeddings, on the CPU (the EmbedsText capability)."""
        self.model.eval()
        with autocast(self.device):
            return self.model.encode_text(self._tokens(texts)).float().cpu()

    # --- one-file checkpoints (SavesModel) ------------------------------------------------

    def write_checkpoint(self, path: str | Path, state: dict[str, torch.Tensor], **fields: Any) -> Path:
        """The encoders' ``state`` and everything needed to rebuild them, with the method's own ``fields``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({
            "format": self.checkpoint_format, "method": self.name, "model_name": self.model_name,
            "quick_gelu": self.quick_gelu, "image_size": self.prep.image_size, "mean": list(self.prep.mean),
            "std": list(self.prep.std), "state_dict": state, "weights": self.weights.to_dict(), **fields,
        }, path)
        return path

    def read_checkpoint(self, path: str | Path) -> dict[str, Any]:
        """A file written by ``write_checkpoint`` for this method; a BenchError for anything else."""
        path = Path(path)
        if not path.is_file():
            raise BenchError(f"saved model {path} does not exist", "train one with `bench run` (models are saved "
                             "with the run record) or check the path")
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several kinds for a damaged or foreign file
            raise BenchError(f"{path} cannot be read as a saved {self.title} model ({type(error).__name__})",
                             "pass a file written by `bench run --save-models`, or save the model again") from None
        if not isinstance(saved, dict) or saved.get("format") != self.checkpoint_format:
            raise BenchError(f"{path} is not a saved {self.title} model",
                             f"pass a file written by {self.title}'s save (`bench run --save-models`)")
        if saved["method"] != self.name:
            raise BenchError(f"{path} holds a {saved['method']} model, not {self.name}",
                             f"load it with --method {saved['method']}")
        return dict(saved)

    def restore(self, saved: Mapping[str, Any], device: torch.device | str | None,
                prepare: Callable[[ClipPair], None] | None = None) -> None:
        """The encoders of a checkpoint read by ``read_checkpoint``, on ``device`` (the CPU by default);
        ``prepare`` shapes the fresh network to the saved state first (e.g. adds a symbol encoder)."""
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.model_name, self.quick_gelu = saved["model_name"], saved["quick_gelu"]
        model = self.network(create_clip(self.model_name, saved["image_size"], self.name, quick_gelu=self.quick_gelu))
        if prepare is not None:
            prepare(model)
        model.load_state_dict(saved["state_dict"])
        self._install(model)
        self.model.eval()
        self.prep = self.preprocessing(saved["image_size"], tuple(saved["mean"]), tuple(saved["std"]))
        self.tokenizer = open_clip.get_tokenizer(self.model_name)
        self.weights = ResolvedWeights(**saved["weights"])
