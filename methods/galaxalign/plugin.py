"""GalaxAlign as a bench method: ``galaxalign-vit16`` and ``galaxalign-convnext``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import open_clip
import torch

from bench.api.data import ArraySource, GalaxyData
from bench.api.errors import BenchError
from bench.api.method import BuildContext, FinetuneConfig, FitReport, check_options, implements
from bench.api.profiles import Profile
from bench.api.weights import RANDOM_INIT, ResolvedWeights, WeightsSpec
from bench.eval import metrics
from bench.train.loop import autocast, batched_outputs
from bench.train.preprocess import Preprocessing
from bench.train.weights import for_run, pretrained_copy
from methods.galaxalign import cards
from methods.galaxalign import prompts as prompt_table
from methods.galaxalign import symbols as symbol_table
from methods.galaxalign.loss import DEFAULT_LOSS, LOSSES
from methods.galaxalign.model import (
    CONVNEXT,
    VIT16,
    ClipArch,
    TriModalCLIP,
    clip_weights_spec,
    create_clip,
    known_tags,
    pretrained_cfg,
)
from methods.galaxalign.recipe import recipe_for
from methods.galaxalign.stages import Modalities, StageCall, stage_call
from methods.galaxalign.symbols import SymbolBank
from methods.galaxalign.variants import PLANS, VARIANTS, Plan

TEXT, TEXT_AND_SYMBOLS = "text", "text+symbols"
CHECKPOINT_FORMAT = "galaxalign-checkpoint/1"
OPTIONS = {
    "clip_tag": "open_clip pretrained tag of the paper profile's CLIP weights",
    "prompts": "JSON file {class name: description} overriding the built-in class descriptions",
    "symbols": "JSON file {class name: symbol kind} overriding the built-in symbol of a class",
    "stage1_epochs": "length of the stage-1 warm-up (full, v1, scratch)",
    "loss": f"contrastive loss of every pair, one of {', '.join(LOSSES)} (default {DEFAULT_LOSS}: the paper's code)",
}


@dataclass
class GalaxAlignFitReport(FitReport):
    """A FitReport whose record also says how GalaxAlign trained and predicts."""

    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    clip_tag: str | None = None
    prompts: str | None = None
    symbols: str | None = None
    stage1_epochs: int | None = None
    loss: str = DEFAULT_LOSS


def parse_options(options: dict[str, str], method: str) -> Options:
    """The method's --option settings, checked: an unknown key is an error, not a silent default."""
    check_options(method, options, OPTIONS)
    stage1 = options.get("stage1_epochs")
    if stage1 is not None and (not stage1.isdigit() or int(stage1) < 1):
        raise BenchError(f"--option stage1_epochs={stage1} is not a positive whole number", "e.g. stage1_epochs=10")
    loss = options.get("loss", DEFAULT_LOSS)
    if loss not in LOSSES:
        raise BenchError(f"{method} has no loss {loss!r}", f"use --option loss=NAME, NAME one of: {', '.join(LOSSES)}")
    return Options(options.get("clip_tag"), options.get("prompts"), options.get("symbols"),
                   int(stage1) if stage1 is not None else None, loss)


class GalaxAlign:
    """Tri-modal CLIP fine-tuning (images, text, schematic symbols) on one open_clip backbone."""

    name: ClassVar[str]
    summary: ClassVar[str]
    variants: ClassVar[tuple[str, ...]] = VARIANTS
    arch: ClassVar[ClipArch]

    model: TriModalCLIP
    prep: Preprocessing
    device: torch.device

    def __init__(self) -> None:
        self.rule = TEXT  # how predict scores classes; chosen on validation by finetune
        self.prototypes: torch.Tensor | None = None  # (C, D) mean symbol embedding per class
        self.bank: SymbolBank | None = None
        self.symbol_overrides: dict[str, str] | None = None
        self.symbol_kinds: list[str] = []
        self.eval_batch_size = 256
        self.details: dict[str, Any] = {}

    # --- the Method protocol --------------------------------------------------------------

    def weights_spec(self, profile: Profile, options: Mapping[str, str] | None = None) -> WeightsSpec | None:
        if profile.model_scale == "tiny":
            return None
        tag = parse_options(dict(options or {}), self.name).clip_tag or self.arch.default_tag
        return clip_weights_spec(self.name, self.arch, tag)  # an unknown tag fails here

    def default_config(self, profile: Profile) -> FinetuneConfig:
        return recipe_for(profile).finetune_config(profile)

    def build(self, ctx: BuildContext) -> ResolvedWeights:
        options = parse_options(dict(ctx.options), self.name)
        variant = VARIANTS[0] if ctx.variant == "default" else ctx.variant  # BuildContext's default
        if variant not in PLANS:
            raise BenchError(f"{self.name} has no variant {variant!r}", f"use one of {', '.join(VARIANTS)}")
        self.plan: Plan = PLANS[variant]
        self.variant = variant
        self.profile = ctx.profile
        self.class_names = tuple(ctx.class_names)
        tiny = ctx.profile.model_scale == "tiny"
        self.model_name = self.arch.tiny_model if tiny else self.arch.paper_model
        tag = options.clip_tag or self.arch.default_tag
        if options.clip_tag and tiny:
            raise BenchError(
                f"--option clip_tag applies to the paper profile's pretrained {self.arch.paper_model}",
                f"drop the option, or run --profile paper (tags: {', '.join(known_tags(self.arch.paper_model))})",
            )
        tag_cfg = {} if tiny else pretrained_cfg(self.model_name, tag)  # an unknown tag fails here
        if not self.plan.pretrained:  # the scratch ablation: random init by definition
            weights = RANDOM_INIT
        else:
            spec = None if tiny else clip_weights_spec(self.name, self.arch, tag)
            weights = for_run(self.name, spec, ctx.init, ctx.weights_file, ctx.weights_dir)
        self.quick_gelu = weights.init == "pretrained" and bool(tag_cfg.get("quick_gelu"))  # e.g. OpenAI's tags
        def build_clip() -> Any:
            return create_clip(self.model_name, ctx.profile.image_size, self.name, weights, self.quick_gelu)

        key = (self.model_name, ctx.profile.image_size, self.quick_gelu)
        clip = pretrained_copy(weights, key, build_clip) if weights.init == "pretrained" else build_clip()
        self.device = ctx.device
        self.model = TriModalCLIP(clip).to(ctx.device)
        if self.arch.convolutional:
            self.model = self.model.to(memory_format=torch.channels_last)
        preprocess_cfg = tag_cfg if weights.init == "pretrained" else clip.visual.preprocess_cfg
        self.prep = Preprocessing(
            image_size=ctx.profile.image_size,
            mean=tuple(preprocess_cfg["mean"]),
            std=tuple(preprocess_cfg["std"]),
            channels_last=self.arch.convolutional,
        )
        self.prompts = prompt_table.class_prompts(self.class_names, options.prompts)
        self.tokenizer = open_clip.get_tokenizer(self.model_name)
        self.symbol_overrides = symbol_table.read_overrides(options.symbols) if options.symbols else None
        if self.plan.uses_symbols:  # an unknown class fails here, before any training
            self.symbol_kinds = [symbol_table.symbol_kind(n, self.symbol_overrides) for n in self.class_names]
        self.recipe = recipe_for(ctx.profile)
        self.stage1_epochs = options.stage1_epochs or self.recipe.stage1_epochs
        self.loss = options.loss
        self.weights = weights
        self.details = {
            "variant": variant,
            "plan": self.plan.summary,
            "clip_model": self.model_name,
            "clip_tag": tag if weights.init == "pretrained" else None,
            "prompts": list(self.prompts),
            "symbol_kinds": list(self.symbol_kinds) if self.plan.uses_symbols else None,
            "stage1_epochs": self.stage1_epochs if any(not s.to_convergence for s in self.plan.stages) else None,
            "loss": self.loss if self.plan.stages else None,
        }
        return weights

    def finetune(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> FitReport:
        history: list[dict[str, float]] = []
        stages: list[dict[str, Any]] = []
        images = 0
        seconds = 0.0
        best_epoch, best_score = 0, None
        for call in self.objectives(train, val, cfg):
            report = call.annotate(call.run())
            if report.best_val_score is not None:
                best_epoch, best_score = len(history) + report.best_epoch, report.best_val_score
            history += report.history
            images += report.train_images
            seconds += report.train_seconds
            stages.append({"stage": call.stage.number, "pairs": list(call.stage.pairs),
                           "to_convergence": call.stage.to_convergence, "epochs_run": report.epochs_run,
                           "best_epoch": report.best_epoch, "symbol_encoder": self.model.has_symbol_encoder})
        self.model.eval()
        chosen = self._choose_rule(val)
        if best_score is None and chosen:  # no stage stopped early (v1, zeroshot): the final val score
            best_epoch, best_score = len(history), chosen[self.rule]
        self.details.update(stages=stages, batch_size=cfg.batch_size if stages else None,
                            prediction_rule=self.rule, val_macro_f1_by_rule=chosen)
        return GalaxAlignFitReport(
            epochs_run=len(history), best_epoch=best_epoch if best_score is not None else len(history),
            best_val_score=best_score, train_images=images, train_seconds=seconds, history=history,
            details=dict(self.details),
        )

    def embed(self, data: GalaxyData) -> torch.Tensor:
        """The image encoder's projected, L2-normalised embeddings."""
        self.model.eval()
        return batched_outputs(self.model.encode_image, data, self.prep, self.device, self.eval_batch_size)

    def predict(self, data: GalaxyData) -> torch.Tensor:
        return self._class_scores(self.embed(data), self.rule)

    # --- capabilities: TrainsObjectives (bench/train/loop.py) here, EmbedsText and SavesModel below ---

    def objectives(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> Iterator[StageCall]:
        """The plan's stages, one call of the shared loop each; renders the symbol bank first."""
        if cfg.adapt != "full":
            raise BenchError(
                f"{self.name} fine-tunes its encoders contrastively; --adapt {cfg.adapt} is not supported",
                "run it with --adapt full",
            )
        bank = None
        if self.plan.uses_symbols:
            bank = SymbolBank.render(
                self.class_names, self.prep.image_size, self.recipe.symbols_per_class, cfg.seed, self.symbol_overrides
            )
        self.bank = bank
        self.eval_batch_size = cfg.eval_batch_size
        modalities = Modalities(self._tokens(self.prompts), bank, self.prep, self.device)
        evaluate = (lambda: self._rule_f1(val)) if val is not None else None
        for stage in self.plan.stages:
            description = f"{self.name} {self.variant} stage {stage.number}"
            yield stage_call(self.model, stage, modalities, train, cfg, self.stage1_epochs, evaluate, description,
                             contrastive=LOSSES[self.loss])

    # --- text, symbols and the prediction rule ---------------------------------------------

    def _tokens(self, texts: list[str]) -> torch.Tensor:
        tokens: torch.Tensor = self.tokenizer(texts)
        return tokens.to(self.device)

    @torch.inference_mode()
    def embed_text(self, texts: list[str]) -> torch.Tensor:
        """(len(texts), D) L2-normalised text embeddings, on the CPU (the EmbedsText capability)."""
        self.model.eval()
        with autocast(self.device):
            return self.model.encode_text(self._tokens(texts)).float().cpu()

    def query_text(self, query: str) -> str:
        """A search query in the training prompts' form (the PhrasesQueries capability)."""
        return prompt_table.query_text(query)

    def _prototypes(self) -> torch.Tensor:
        """(C, D) mean symbol-encoder embedding of each class's symbols, L2-normalised."""
        assert self.bank is not None
        flat, labels = self.bank.flat()
        symbols = GalaxyData(ArraySource(flat), labels, self.class_names, "symbols")
        embedded = batched_outputs(self.model.encode_symbol, symbols, self.prep, self.device, self.eval_batch_size)
        means = torch.stack([embedded[torch.as_tensor(labels) == c].mean(0) for c in range(len(self.class_names))])
        return torch.nn.functional.normalize(means, dim=-1)

    def _class_scores(self, image: torch.Tensor, rule: str) -> torch.Tensor:
        """(N, C) scaled cosine similarities: to the class prompts, or their mean with the
        similarities to the class symbol prototypes."""
        similarity = image @ self.embed_text(self.prompts).T
        if rule == TEXT_AND_SYMBOLS:
            assert self.prototypes is not None
            similarity = 0.5 * (similarity + image @ self.prototypes.T)
        return similarity * float(self.model.logit_scale.detach().exp())

    def _rules(self) -> tuple[str, ...]:
        return (TEXT, TEXT_AND_SYMBOLS) if self.plan.uses_symbols else (TEXT,)

    def _rule_f1(self, val: GalaxyData) -> dict[str, float]:
        """Val macro-F1 of every candidate rule (prototypes recomputed from the current weights)."""
        self.model.eval()
        if TEXT_AND_SYMBOLS in self._rules():
            self.prototypes = self._prototypes()
        image = self.embed(val)
        f1 = {}
        for rule in self._rules():
            predicted = self._class_scores(image, rule).argmax(1)
            f1[rule] = metrics.macro_f1(val.labels, predicted, val.num_classes)
        return f1

    def _choose_rule(self, val: GalaxyData | None) -> dict[str, float]:
        """Keep the rule with the best val macro-F1 (text on ties and without val); the symbol
        prototypes are those of the final weights."""
        if val is None:
            self.prototypes = self._prototypes() if self.bank is not None else None
            self.rule = TEXT
            return {}
        f1 = self._rule_f1(val)
        self.rule = max(self._rules(), key=lambda rule: (f1[rule], rule == TEXT))
        return f1

    # --- saving for search (SavesModel) ---------------------------------------------------

    def save(self, path: str | Path, include_symbol_encoder: bool = False) -> Path:
        """Everything needed to embed images and text and to predict, in one file: the image and
        text encoders, the prompts, the prediction rule and the class symbol prototypes. The
        symbol encoder (as large as the image encoder) only with ``include_symbol_encoder``."""
        path = Path(path)
        keep_symbols = include_symbol_encoder and self.model.has_symbol_encoder
        state = {
            k: v.detach().cpu()
            for k, v in self.model.state_dict().items()
            if keep_symbols or not k.startswith("symbol_visual.")
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                "method": self.name,
                "model_name": self.model_name,
                "quick_gelu": self.quick_gelu,
                "image_size": self.prep.image_size,
                "mean": list(self.prep.mean),
                "std": list(self.prep.std),
                "class_names": list(self.class_names),
                "prompts": list(self.prompts),
                "rule": self.rule,
                "prototypes": self.prototypes,
                "symbol_encoder": keep_symbols,
                "state_dict": state,
                "weights": self.weights.to_dict(),
                "details": self.details,
            },
            path,
        )
        return path

    def load(self, path: str | Path, device: torch.device | str | None = None) -> None:
        """Restore a plugin saved with ``save``; no build (and no pretrained weights) needed."""
        path = Path(path)
        if not path.is_file():
            raise BenchError(f"saved model {path} does not exist", "train one with `bench run` (models are saved "
                             "with the run record) or check the path")
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several kinds for a damaged or foreign file
            raise BenchError(f"{path} cannot be read as a saved GalaxAlign model ({type(error).__name__})",
                             "pass a file written by `bench run --save-models`, or save the model again") from None
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            raise BenchError(f"{path} is not a saved GalaxAlign model", "pass a file written by GalaxAlign.save")
        if saved["method"] != self.name:
            raise BenchError(f"{path} holds a {saved['method']} model, not {self.name}",
                             f"load it with --method {saved['method']}")
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.model_name, self.quick_gelu = saved["model_name"], saved["quick_gelu"]
        model = TriModalCLIP(create_clip(self.model_name, saved["image_size"], self.name, quick_gelu=self.quick_gelu))
        if saved["symbol_encoder"]:
            model.split_symbol_encoder()
        model.load_state_dict(saved["state_dict"])
        self.model = model.to(self.device).eval()
        if self.arch.convolutional:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.prep = Preprocessing(saved["image_size"], tuple(saved["mean"]), tuple(saved["std"]),
                                  channels_last=self.arch.convolutional)
        self.class_names = tuple(saved["class_names"])
        self.prompts = list(saved["prompts"])
        self.rule = saved["rule"]
        self.prototypes = saved["prototypes"]
        self.tokenizer = open_clip.get_tokenizer(self.model_name)
        self.weights = ResolvedWeights(**saved["weights"])
        self.details = dict(saved["details"])
        self.variant = self.details.get("variant", "full")
        self.plan = PLANS[self.variant]


@implements(cards.GALAXALIGN_VIT16)
class GalaxAlignViT16(GalaxAlign):
    arch = VIT16


@implements(cards.GALAXALIGN_CONVNEXT)
class GalaxAlignConvNeXt(GalaxAlign):
    arch = CONVNEXT

