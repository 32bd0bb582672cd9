"""Every GalaxAlign hyperparameter, in one place per profile.

Sources. The paper (section 3) fixes the method: two stages, stage 1 a warm-up of "just over 10
epochs", stage 2 (and the ablations trained "to convergence") until validation stops improving,
a learnable CLIP temperature, CLIP weights from open_clip (ref. 12). It does not state the
optimiser, learning rate, weight decay or batch size; for those we follow the usual recipe for
fine-tuning open_clip models contrastively (AdamW, lr 1e-5, weight decay 0.1, linear warm-up
then cosine decay, as in FLYP, Goyal et al. 2023, and WiSE-FT, Wortsman et al. 2022).

The epoch budget, patience and batch size are the profile's (bench/api/profiles.py), the same for
every method of the bench: a stage trained to convergence gets at most ``profile.epochs`` epochs,
so GalaxAlign's full variant trains ``stage1_epochs`` more than a baseline at most.

The demo profile trains tiny random-init towers on 64 px images on a CPU: a 100x higher learning
rate (nothing pretrained to preserve), a 2-epoch stage-1 warm-up (the paper's 10 scaled with the
demo's 8 epochs instead of 30) and a smaller symbol bank.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.api.method import FinetuneConfig
from bench.api.profiles import Profile


@dataclass(frozen=True)
class Recipe:
    stage1_epochs: int  # fixed length of the stage-1 warm-up (full, v1, scratch); --option stage1_epochs=N
    lr: float
    weight_decay: float  # AdamW; none on biases, norms and the temperature
    warmup_epochs: float  # linear learning-rate warm-up at the start of every stage
    symbols_per_class: int  # pre-rendered symbols per class that training draws from

    def finetune_config(self, profile: Profile) -> FinetuneConfig:
        """``epochs`` bounds every stage trained to convergence; each step takes ``batch_size``
        galaxies, each bringing one symbol of its class."""
        return FinetuneConfig(
            epochs=profile.epochs,
            batch_size=profile.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            warmup_epochs=self.warmup_epochs,
            patience=profile.patience,
        )


RECIPES: dict[str, Recipe] = {
    "paper": Recipe(stage1_epochs=10, lr=1e-5, weight_decay=0.1, warmup_epochs=1.0, symbols_per_class=64),
    "demo": Recipe(stage1_epochs=2, lr=1e-3, weight_decay=0.05, warmup_epochs=1.0, symbols_per_class=24),
}


def recipe_for(profile: Profile) -> Recipe:
    """The recipe of ``profile``; a profile added later gets the one of its model scale."""
    if profile.name in RECIPES:
        return RECIPES[profile.name]
    return RECIPES["demo" if profile.model_scale == "tiny" else "paper"]
