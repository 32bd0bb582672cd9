"""The fine-tuning protocol shared by the baselines, and where each number comes from.

Every baseline is fully fine-tuned (backbone + linear head) with AdamW, a one-epoch linear
warm-up then cosine decay, early stopping on validation macro-F1 and galaxy augmentations
(flips and rotations by any angle): all in bench/train/loop.py. The GalaxAlign paper gives no
baseline hyperparameters beyond "fine-tuned following Lastufka et al. [27]" for the
self-supervised ViTs, so each method's ``default_config`` picks its numbers from:

- Lastufka et al. 2024 (arXiv 2409.11175), code github.com/elastufka/fm4astro ``finetune.py``:
  Hugging Face ``Trainer`` (AdamW) at learning rate 5e-5 and the Trainer's weight decay of 0,
  no layer decay, no head dropout. (Their DINOv2 / MSN / MAE runs freeze the backbone; here
  that is ``--adapt linear``, whose whole protocol is in bench/train/linear_probe.py.)
- Zoobot 2.9.0 ``FinetuneableZoobotAbstract`` defaults (zoobot/pytorch/training/finetune.py):
  AdamW, learning rate 1e-4, weight decay 0.05, layer-wise lr decay 0.75, head dropout 0.5.

Epochs, patience and batch size come from the profile (bench/api/profiles.py), so that every method
of a profile trains equally long.
"""

from __future__ import annotations

from bench.api.method import FinetuneConfig
from bench.api.profiles import Profile

ZOOBOT_LR = 1e-4  # FinetuneableZoobotAbstract(learning_rate=1e-4)
ZOOBOT_WEIGHT_DECAY = 0.05  # FinetuneableZoobotAbstract(weight_decay=0.05)
ZOOBOT_LAYER_DECAY = 0.75  # FinetuneableZoobotAbstract(layer_decay=0.75)
ZOOBOT_HEAD_DROPOUT = 0.5  # FinetuneableZoobotAbstract(head_dropout_prob=0.5)
# Our choice: the demo's tiny models start from random init and have nothing pretrained to
# preserve, so they train at a 10x higher rate than any pretrained model.
DEMO_LR = 1e-3


def profile_config(
    profile: Profile,
    *,
    lr: float,
    weight_decay: float,
    layer_decay: float | None = None,
    head_dropout: float = 0.0,
) -> FinetuneConfig:
    """A FinetuneConfig with the profile's epochs, patience and batch size; ``lr`` applies to
    full-size pretrained models, the demo's tiny random-init models use ``DEMO_LR``."""
    return FinetuneConfig(
        epochs=profile.epochs,
        batch_size=profile.batch_size,
        lr=DEMO_LR if profile.model_scale == "tiny" else lr,
        weight_decay=weight_decay,
        patience=profile.patience,
        layer_decay=layer_decay,
        head_dropout=head_dropout,
    )
