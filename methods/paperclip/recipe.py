"""Every paperclip-vit16 setting, per profile, with its source.

From PAPERCLIP's code (Mishra-Sharma, Song, Thaler 2024; smsharma/PAPERCLIP-Hubble, configs/base.py):
the base model ``openai/clip-vit-base-patch16`` (here open_clip ``ViT-B-16``/``openai``, the same
weights), the symmetric InfoNCE loss of CLIP with its learned temperature, AdamW with learning rate 1e-5
and weight decay 1e-3, batches of 32, 2,000 steps of linear warm-up then a constant learning rate, and
random 90-degree rotations and random crops to 224 px as augmentation (``Preprocessing`` "rot90_crop":
a window of 224/256 of each side, resampled to the model's size); text: one free-text description per
image (there the observing proposal's abstract, here each image's own caption, ``train.captions``),
truncated to CLIP's 77 tokens.

Out of reach: the optional summarisation of the abstracts by a large language model (guided generation)
needs an LLM, which the bench does not run offline; the captions are used as given.

Ours: the number of steps (the bench's epoch budget, the profile's, with early stopping on the val
split's image-to-text recall@5 and the profile's patience; PAPERCLIP's fixed training length is not
used), bf16 autocast on CUDA, one device.

The demo profile trains a tiny random-init CLIP at 64 px: the paper's batch, weight decay, schedule shape
and augmentation, with a 100x higher learning rate (1e-3: nothing pretrained to preserve, as GalaxAlign's
demo) and 20 warm-up steps (the paper's 2,000 scaled to the demo's few hundred steps).
"""

from __future__ import annotations

from bench.train.preprocess import Augmentation
from methods.clip.recipe import Recipe

AUGMENTATION: Augmentation = "rot90_crop"
CROP_FRACTION = 224 / 256  # random crops to 224 px of the 256 px cutouts (Galaxy10 DECaLS' size)

RECIPES: dict[str, Recipe] = {
    "paper": Recipe(lr=1e-5, weight_decay=1e-3, schedule="warmup_constant", warmup_steps=2000, batch_size=32),
    "demo": Recipe(lr=1e-3, weight_decay=1e-3, schedule="warmup_constant", warmup_steps=20, batch_size=32),
}
