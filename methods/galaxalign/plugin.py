"""GalaxAlign as a bench method: ``galaxalign-vit16`` and ``galaxalign-convnext``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from bench.api.data import ArraySource, GalaxyData
from bench.api.errors import BenchError
from bench.api.method import BuildContext, FinetuneConfig, FitReport, check_options, implements
from bench.api.profiles import Profile
from bench.api.weights import ResolvedWeights
from bench.eval import metrics
from bench.train.loop import batched_outputs
from methods.clip.base import ClipBase
from methods.clip.model import ClipPair
from methods.galaxalign import cards
from methods.galaxalign import prompts as prompt_table
from methods.galaxalign import symbols as symbol_table
from methods.galaxalign.loss import DEFAULT_LOSS, LOSSES
from methods.galaxalign.model import CONVNEXT, VIT16, TriModalCLIP
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


class GalaxAlign(ClipBase):
    """Tri-modal CLIP fine-tuning (images, text, schematic symbols) on one open_clip backbone."""

    variants: ClassVar[tuple[str, ...]] = VARIANTS
    network = TriModalCLIP
    title = "GalaxAlign"
    checkpoint_format = CHECKPOINT_FORMAT

    model: TriModalCLIP

    def __init__(self) -> None:
        self.rule = TEXT  # how predict scores classes; chosen on validation by finetune
        self.prototypes: torch.Tensor | None = None  # (C, D) mean symbol embedding per class
        self.bank: SymbolBank | None = None
        self.symbol_overrides: dict[str, str] | None = None
        self.symbol_kinds: list[str] = []
        self.eval_batch_size = 256
        self.details: dict[str, Any] = {}

    # --- the Method protocol --------------------------------------------------------------

    def clip_tag(self, options: Mapping[str, str]) -> str | None:
        return parse_options(dict(options), self.name).clip_tag

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
        tag = self.build_clip(ctx, options.clip_tag, pretrained=self.plan.pretrained)  # scratch: random init
        weights = self.weights
        self.prompts = prompt_table.class_prompts(self.class_names, options.prompts)
        self.symbol_overrides = symbol_table.read_overrides(options.symbols) if options.symbols else None
        if self.plan.uses_symbols:  # an unknown class fails here, before any training
            self.symbol_kinds = [symbol_table.symbol_kind(n, self.symbol_overrides) for n in self.class_names]
        self.recipe = recipe_for(ctx.profile)
        self.stage1_epochs = options.stage1_epochs or self.recipe.stage1_epochs
        self.loss = options.loss
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
        keep_symbols = include_symbol_encoder and self.model.has_symbol_encoder
        state = {
            k: v.detach().cpu()
            for k, v in self.model.state_dict().items()
            if keep_symbols or not k.startswith("symbol_visual.")
        }
        return self.write_checkpoint(
            path, state, class_names=list(self.class_names), prompts=list(self.prompts), rule=self.rule,
            prototypes=self.prototypes, symbol_encoder=keep_symbols, details=self.details,
        )

    def load(self, path: str | Path, device: torch.device | str | None = None) -> None:
        """Restore a plugin saved with ``save``; no build (and no pretrained weights) needed."""
        saved = self.read_checkpoint(path)
        self.restore(saved, device, _add_symbol_encoder if saved["symbol_encoder"] else None)
        self.class_names = tuple(saved["class_names"])
        self.prompts = list(saved["prompts"])
        self.rule = saved["rule"]
        self.prototypes = saved["prototypes"]
        self.details = dict(saved["details"])
        self.variant = self.details.get("variant", "full")
        self.plan = PLANS[self.variant]


def _add_symbol_encoder(model: ClipPair) -> None:
    """Shape a fresh network to a checkpoint saved with its symbol encoder."""
    assert isinstance(model, TriModalCLIP)
    model.split_symbol_encoder()


@implements(cards.GALAXALIGN_VIT16)
class GalaxAlignViT16(GalaxAlign):
    arch = VIT16


@implements(cards.GALAXALIGN_CONVNEXT)
class GalaxAlignConvNeXt(GalaxAlign):
    arch = CONVNEXT

