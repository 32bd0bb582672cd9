"""Every GalaxAlign hyperparameter, in one place per profile.

The paper's code. The paper (section 3) fixes the method: two stages, stage 1 (image-text and
symbol-text through one shared image encoder) a warm-up of "just over 10 epochs", stage 2 (adding
image-symbol, with a symbol encoder copied from the image encoder) and the ablations trained "to
convergence", a learnable CLIP temperature, CLIP weights from open_clip (ref. 12). Its README
trains with ``torchrun --nproc_per_node 2 -m open_clip_train.main --batch-size 256 --precision
amp``: open_clip's ``ClipLoss`` (see loss.py) over a global batch of 512 (256 per GPU on 2 GPUs),
fp16 autocast, open_clip_train's AdamW. The paper does not state the learning rate or weight
decay.

Ours. The paper profile trains stage 1 for 10 epochs with the same loss (``--option
loss=multi_positive`` swaps in our alternative, see loss.py) over batches of 512 on one device
(``--batch-size N`` lowers it where that does not fit; training over several GPUs is planned), in
bf16 autocast on CUDA. For the optimiser settings we follow the usual recipe for fine-tuning open_clip
models contrastively (AdamW, lr 1e-5, weight decay 0.1, linear warm-up then cosine decay, as in
FLYP, Goyal et al. 2023, and WiSE-FT, Wortsman et al. 2022).

Where they differ. One device instead of two (the same 512 x 512 logits in each loss; the
gradient without DDP's halving, see loss.py, which AdamW's update hardly notices), bf16 instead
of fp16, and 10 stage-1 epochs for "just over 10". The epoch budget and patience are the
profile's (bench/api/profiles.py), the same for every method of the bench: a stage trained to
convergence gets at most ``profile.epochs`` epochs, so GalaxAlign's full variant trains
``stage1_epochs`` more than a baseline at most.

The demo profile trains tiny random-init towers on 64 px images on a CPU: the profile's batch of
64 (as every demo method), a 100x higher learning rate (nothing pretrained to preserve), a 2-epoch
stage-1 warm-up (the paper's 10 scaled with the demo's 8 epochs instead of 30) and a smaller
symbol bank. Its loss is the paper's too: the loss is the method, not its scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.api.method import Schedule
from bench.api.profiles import Profile
from methods.clip import recipe as clip_recipe


@dataclass(frozen=True, kw_only=True)
class Recipe(clip_recipe.Recipe):
    """A CLIP fine-tune's settings (``epochs`` bounds every stage trained to convergence; each step takes
    ``batch_size`` galaxies, each bringing one symbol of its class), and GalaxAlign's own."""

    stage1_epochs: int  # fixed length of the stage-1 warm-up (full, v1, scratch); --option stage1_epochs=N
    symbols_per_class: int  # pre-rendered symbols per class that training draws from
    schedule: Schedule = "warmup_cosine"  # linear warm-up at the start of every stage, then cosine decay


PAPER_BATCH_SIZE = 512  # the README's global batch: 256 per GPU on 2 GPUs
RECIPES: dict[str, Recipe] = {
    "paper": Recipe(stage1_epochs=10, lr=1e-5, weight_decay=0.1, warmup_epochs=1.0, symbols_per_class=64,
                    batch_size=PAPER_BATCH_SIZE),
    "demo": Recipe(stage1_epochs=2, lr=1e-3, weight_decay=0.05, warmup_epochs=1.0, symbols_per_class=24),
}


def recipe_for(profile: Profile) -> Recipe:
    """The recipe of ``profile``; a profile added later gets the one of its model scale."""
    return clip_recipe.recipe_for(RECIPES, profile)
