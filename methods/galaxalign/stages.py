"""One training stage of GalaxAlign as a call of the shared loop (bench/train/loop.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from bench.api.data import GalaxyData
from bench.api.method import FinetuneConfig, FitReport
from bench.train.loop import LossTerms
from bench.train.preprocess import Preprocessing
from methods.clip.loss import Contrastive
from methods.clip.stage import ContrastiveCall, contrastive_objective
from methods.galaxalign.model import TriModalCLIP
from methods.galaxalign.recipe import PAPER_BATCH_SIZE
from methods.galaxalign.symbols import SymbolBank
from methods.galaxalign.variants import IMAGE_SYMBOL, IMAGE_TEXT, SYMBOL_TEXT, Stage

Evaluate = Callable[[], dict[str, float]]  # val macro-F1 of every candidate prediction rule


@dataclass
class Modalities:
    """What the loss draws on besides the galaxy images: class prompts and the symbol bank."""

    tokens: torch.Tensor  # (C, L) tokenised class prompts, on the device
    bank: SymbolBank | None
    prep: Preprocessing
    device: torch.device


def stage_loss(
    model: TriModalCLIP,
    stage: Stage,
    modalities: Modalities,
    contrastive: Contrastive,
    augment: bool,
    generator: torch.Generator,
) -> Callable[[torch.Tensor, torch.Tensor], LossTerms]:
    """The stage's loss: the sum of its ``contrastive`` terms, one per pair, each returned by name."""
    if stage.uses_symbols and modalities.bank is None:
        raise ValueError(f"stage {stage.number} needs symbols but no symbol bank was rendered")

    def loss(images: torch.Tensor, labels: torch.Tensor) -> LossTerms:
        text = model.encode_text(modalities.tokens)[labels]  # one prompt per class, gathered per item
        image = model.encode_image(images)
        scale = model.logit_scale
        terms: LossTerms = {IMAGE_TEXT: contrastive(image, text, labels, scale)}
        if stage.uses_symbols:
            assert modalities.bank is not None
            drawn = modalities.bank.sample(labels, generator)
            symbol = model.encode_symbol(modalities.prep(drawn, modalities.device, augment, generator))
            if SYMBOL_TEXT in stage.pairs:
                terms[SYMBOL_TEXT] = contrastive(symbol, text, labels, scale)
            if IMAGE_SYMBOL in stage.pairs:
                terms[IMAGE_SYMBOL] = contrastive(image, symbol, labels, scale)
        total = torch.stack([terms[pair] for pair in stage.pairs]).sum()
        return {**terms, "loss": total, "logit_scale": scale.detach().exp()}

    return loss


@dataclass(frozen=True, kw_only=True)
class StageCall(ContrastiveCall):
    """The shared loop's call for one stage; ``annotate`` gives its report's history records the
    stage number and, where validation ran, the val macro-F1 of every prediction rule."""

    stage: Stage
    rule_f1: list[dict[str, float]] = field(default_factory=list)  # one per validated epoch, filled by the score

    def annotate(self, report: FitReport) -> FitReport:
        for i, record in enumerate(report.history):
            record["stage"] = float(self.stage.number)
            if i < len(self.rule_f1):
                record.update({f"val_macro_f1[{rule}]": value for rule, value in self.rule_f1[i].items()})
        return report


BATCH_NOTE = f" (the paper's {PAPER_BATCH_SIZE} was global, 256 per GPU on 2 GPUs)"


def stage_call(
    model: TriModalCLIP,
    stage: Stage,
    modalities: Modalities,
    train: GalaxyData,
    cfg: FinetuneConfig,
    stage1_epochs: int,
    evaluate: Evaluate | None,
    description: str,
    *,
    contrastive: Contrastive,
) -> StageCall:
    """What ``stage`` trains, with ``contrastive`` the loss of each of its pairs, from the model as
    the stages before it left it: stage 2 first copies the image encoder into a symbol encoder of
    its own."""
    if stage.separate_symbol_encoder and not model.has_symbol_encoder:
        model.split_symbol_encoder()
    stage_cfg = cfg if stage.to_convergence else replace(cfg, epochs=stage1_epochs)
    generator = torch.Generator().manual_seed(cfg.seed * 1000 + stage.number)
    rule_f1: list[dict[str, float]] = []

    def score() -> float:
        assert evaluate is not None
        f1 = evaluate()
        rule_f1.append(f1)
        return max(f1.values())

    objective = contrastive_objective(
        model, stage_loss(model, stage, modalities, contrastive, cfg.augment, generator), cfg.weight_decay,
        score if stage.to_convergence and evaluate is not None else None,
    )
    return StageCall(objective, train, stage_cfg, modalities.prep, modalities.device, description,
                     batch_note=BATCH_NOTE, stage=stage, rule_f1=rule_f1)
