"""paperclip-vit16: PAPERCLIP's recipe (recipe.py) on the shared contrastive CLIP method."""

from __future__ import annotations

from bench.api.method import implements
from methods.clip.plugin import ContrastiveClip
from methods.paperclip import cards, recipe


@implements(cards.PAPERCLIP_VIT16)
class PaperclipViT16(ContrastiveClip):
    """OpenAI's CLIP ViT-B/16 fine-tuned on each image's own caption, quarter turns and crops as augmentation."""

    recipes = recipe.RECIPES
    trains_on_captions = cards.PAPERCLIP_VIT16.trains_on_captions
    caption_fix = "give the run captions: the dataset's own, or --captions FILE (a CSV of index,caption)"
    augmentation = recipe.AUGMENTATION
    crop_fraction = recipe.CROP_FRACTION
