"""The paper's ablations (Table 4) plus zero-shot CLIP, each as a plan of training stages."""

from __future__ import annotations

from dataclasses import dataclass

IMAGE_TEXT, SYMBOL_TEXT, IMAGE_SYMBOL = "image_text", "symbol_text", "image_symbol"


@dataclass(frozen=True)
class Stage:
    """One call of the shared training loop."""

    number: int  # 1: symbols share the image encoder; 2: they have their own
    pairs: tuple[str, ...]  # the contrastive terms summed into the loss
    to_convergence: bool  # early stopping on val macro-F1, else a fixed warm-up of stage1_epochs

    @property
    def uses_symbols(self) -> bool:
        return SYMBOL_TEXT in self.pairs or IMAGE_SYMBOL in self.pairs

    @property
    def separate_symbol_encoder(self) -> bool:
        return self.number == 2


STAGE1_WARMUP = Stage(1, (IMAGE_TEXT, SYMBOL_TEXT), to_convergence=False)
STAGE1_TO_CONVERGENCE = Stage(1, (IMAGE_TEXT, SYMBOL_TEXT), to_convergence=True)
STAGE2 = Stage(2, (IMAGE_TEXT, SYMBOL_TEXT, IMAGE_SYMBOL), to_convergence=True)
CLIP_FINETUNE = Stage(1, (IMAGE_TEXT,), to_convergence=True)


@dataclass(frozen=True)
class Plan:
    pretrained: bool  # False: random init whatever the run's --init (the scratch ablation)
    stages: tuple[Stage, ...]
    summary: str

    @property
    def uses_symbols(self) -> bool:
        return any(stage.uses_symbols for stage in self.stages)


PLANS: dict[str, Plan] = {
    "full": Plan(True, (STAGE1_WARMUP, STAGE2), "stage-1 warm-up, then stage 2 to convergence (the paper's method)"),
    "clip": Plan(True, (CLIP_FINETUNE,), "bimodal CLIP fine-tune: image-text only, no symbols"),
    "v1": Plan(True, (STAGE1_WARMUP,), "Ours_v1: the stage-1 warm-up only"),
    "v2": Plan(True, (STAGE2,), "Ours_v2: stage 2 only, symbol encoder copied from the pretrained image encoder"),
    "v3": Plan(True, (STAGE1_TO_CONVERGENCE,), "Ours_v3: stage 1 only, to convergence"),
    "scratch": Plan(False, (STAGE1_WARMUP, STAGE2), "Ours_Scratch: both stages from random init"),
    "zeroshot": Plan(True, (), "un-fine-tuned CLIP, classes by text similarity"),
}
VARIANTS: tuple[str, ...] = tuple(PLANS)  # "full" first: the default


def random_init_aliases() -> tuple[tuple[str, str], ...]:
    """(variant, variant): a plan that starts from random init by definition, and the pretrained plan with
    the same stages, which is the same run whenever the run's init is random."""
    return tuple((name, other) for name, plan in PLANS.items() if not plan.pretrained
                 for other, twin in PLANS.items() if twin.pretrained and twin.stages == plan.stages)
