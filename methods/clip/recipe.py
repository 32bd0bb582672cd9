"""Every clip-vit16 setting, per profile, with its source; and the recipe type the CLIP methods share.

clip-vit16 is the family's baseline: OpenAI's CLIP ViT-B/16 (open_clip ``ViT-B-16``/``openai``: the
model PAPERCLIP starts from, ``openai/clip-vit-base-patch16``), either as released (variant ``zeroshot``:
no training at all) or fine-tuned (``finetune``, the default, as every method's default trains) with the
plain CLIP loss (open_clip's ``ClipLoss``, methods/clip/loss.py) on class captions: image i's text is its
class's description in the dataset's first zero-shot template ("a picture of a barred spiral galaxy.",
bench/data/captions/). No paper defines this baseline, so every setting is ours:

- optimiser: the usual recipe for fine-tuning open_clip models contrastively (AdamW, lr 1e-5, weight
  decay 0.1, one epoch of linear warm-up then cosine decay; FLYP, Goyal et al. 2023; WiSE-FT, Wortsman
  et al. 2022), GalaxAlign's too; the profile's batch (64) and epoch budget;
- augmentation: the bench's (rotations by any angle and mirroring: galaxies have no up);
- validation: zero-shot macro-F1 on the val split against the class descriptions (the score GalaxAlign
  keeps its best epoch by), early stopping with the profile's patience.

The demo profile trains a tiny random-init CLIP (methods/clip/configs/clip-tiny-vit16.json, with CLIP's
77-token context) at 64 px with a 100x higher learning rate (nothing pretrained to preserve) and weight
decay 0.05, as GalaxAlign's demo does, in batches of 32 (paperclip-vit16's): the profile's 64 gives the
tiny model 3 steps an epoch on ``demo:20``, too few to move it (measured: val macro-F1 0.02 -> 0.09).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from bench.api.method import FinetuneConfig, Schedule
from bench.api.profiles import Profile


@dataclass(frozen=True)
class Recipe:
    """A CLIP fine-tune's settings under one profile."""

    lr: float
    weight_decay: float  # AdamW; none on biases, norms, embeddings and the temperature
    schedule: Schedule
    warmup_epochs: float = 1.0
    warmup_steps: int | None = None  # instead of warmup_epochs
    batch_size: int | None = None  # images per step; None: the profile's, as for every method

    def finetune_config(self, profile: Profile) -> FinetuneConfig:
        """The profile's epoch budget and patience with this recipe's optimiser and batch."""
        return FinetuneConfig(
            epochs=profile.epochs,
            batch_size=profile.batch_size if self.batch_size is None else self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            warmup_epochs=self.warmup_epochs,
            warmup_steps=self.warmup_steps,
            schedule=self.schedule,
            patience=profile.patience,
        )


AnyRecipe = TypeVar("AnyRecipe", bound=Recipe)


def recipe_for(recipes: Mapping[str, AnyRecipe], profile: Profile) -> AnyRecipe:
    """The recipe of ``profile``; a profile added later gets the one of its model scale."""
    if profile.name in recipes:
        return recipes[profile.name]
    return recipes["demo" if profile.model_scale == "tiny" else "paper"]


RECIPES: dict[str, Recipe] = {
    "paper": Recipe(lr=1e-5, weight_decay=0.1, schedule="warmup_cosine"),
    "demo": Recipe(lr=1e-3, weight_decay=0.05, schedule="warmup_cosine", batch_size=32),
}
