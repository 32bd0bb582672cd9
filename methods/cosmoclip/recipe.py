"""Every cosmoclip-vit16 setting, per profile, with its source.

From CosmoCLIP (Imam et al. 2024): OpenAI's pretrained CLIP fine-tuned contrastively on image-caption
pairs whose captions a BLIP captioning model wrote for each image, evaluated by zero-shot
classification and image-text retrieval. Its cells take the caption source "blip" (``MethodCard.captions``)
unless ``--captions`` names another: run `bench captions blip --dataset NAME` once first; the method
trains on ``train.captions``. The demo profile's tiny random models cannot use BLIP (no weights offline),
so there the dataset's own captions stand in (the demo's rendered ones; every record's ``data.captions``
names its source).

Not stated in the text we have (the abstract), chosen by us:
- the backbone: ViT-B/16 (open_clip ``ViT-B-16``/``openai``), as clip-vit16 and paperclip-vit16, so the
  three differ only in their texts and recipes (not stated);
- the loss: CLIP's symmetric InfoNCE with its learned temperature, the loss CLIP is trained with and
  "learned contrastively" names (not stated);
- the optimiser: AdamW, lr 1e-5, weight decay 0.1, one epoch of linear warm-up then cosine decay (the
  usual open_clip fine-tuning recipe: FLYP, WiSE-FT) (not stated);
- the batch: the profile's (64) (not stated);
- the augmentation: the bench's rotations by any angle and mirroring (not stated);
- the number of steps: the profile's epoch budget with early stopping on the val split's image-to-text
  recall@5 (not stated);
- the BLIP model: ``Salesforce/blip-image-captioning-base`` (the issue's default) (not stated).

The demo profile trains a tiny random-init CLIP at 64 px with a 100x higher learning rate, weight decay
0.05 and batches of 32, as clip-vit16's demo.
"""

from __future__ import annotations

from methods.clip.recipe import Recipe

RECIPES: dict[str, Recipe] = {
    "paper": Recipe(lr=1e-5, weight_decay=0.1, schedule="warmup_cosine"),
    "demo": Recipe(lr=1e-3, weight_decay=0.05, schedule="warmup_cosine", batch_size=32),
}
