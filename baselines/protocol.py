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

``--adapt zoobot`` instead trains the Zoobot encoders with zoobot's own recipe
(baselines/zoobot_recipe.py), whose settings ``zoobot_recipe_config`` states: the optimiser numbers above,
no scheduler, zoobot's epochs, patience and batch size, early stopping on validation loss.
"""

from __future__ import annotations

from bench.api.method import FinetuneConfig
from bench.api.profiles import Profile

ZOOBOT_LR = 1e-4  # FinetuneableZoobotAbstract(learning_rate=1e-4)
ZOOBOT_WEIGHT_DECAY = 0.05  # FinetuneableZoobotAbstract(weight_decay=0.05)
ZOOBOT_LAYER_DECAY = 0.75  # FinetuneableZoobotAbstract(layer_decay=0.75)
ZOOBOT_HEAD_DROPOUT = 0.5  # FinetuneableZoobotAbstract(head_dropout_prob=0.5)
ZOOBOT_MAX_EPOCHS = 100  # zoobot.pytorch.training.finetune.get_trainer(max_epochs=100)
ZOOBOT_PATIENCE = 10  # get_trainer(patience=10): EarlyStopping on finetuning/val_loss
ZOOBOT_BATCH_SIZE = 256  # galaxy_datasets CatalogDataModule(batch_size=256), the data module zoobot trains from
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


def zoobot_recipe_config(profile: Profile) -> FinetuneConfig:
    """What zoobot 2.9.0's own fine-tune uses (``--adapt zoobot``): AdamW at zoobot's learning rate, weight
    decay, layer decay and head dropout at a constant rate (``scheduler_kwargs=None``), one pass over the
    training images per epoch, zoobot's epochs, patience and batch size, and our galaxy augmentations
    (baselines/zoobot_recipe.py says why). The demo profile caps epochs, patience and batch size at its
    own, so that it stays minutes on a CPU; the paper profile uses zoobot's."""
    demo = profile.name == "demo"
    return FinetuneConfig(
        epochs=min(profile.epochs, ZOOBOT_MAX_EPOCHS) if demo else ZOOBOT_MAX_EPOCHS,
        batch_size=min(profile.batch_size, ZOOBOT_BATCH_SIZE) if demo else ZOOBOT_BATCH_SIZE,
        lr=ZOOBOT_LR,
        weight_decay=ZOOBOT_WEIGHT_DECAY,
        warmup_epochs=0.0,
        schedule="constant",
        patience=min(profile.patience, ZOOBOT_PATIENCE) if demo else ZOOBOT_PATIENCE,
        min_epoch_images=0,
        adapt="zoobot",
        head_dropout=ZOOBOT_HEAD_DROPOUT,
        layer_decay=ZOOBOT_LAYER_DECAY,
    )
