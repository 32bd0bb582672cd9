"""cosmoclip-vit16: CosmoCLIP's recipe (recipe.py) on the shared contrastive CLIP method."""

from __future__ import annotations

from bench.api.method import implements
from methods.clip.plugin import ContrastiveClip
from methods.cosmoclip import cards, recipe


@implements(cards.COSMOCLIP_VIT16)
class CosmoclipViT16(ContrastiveClip):
    """OpenAI's CLIP ViT-B/16 fine-tuned on each image's BLIP caption."""

    recipes = recipe.RECIPES
    trains_on_captions = cards.COSMOCLIP_VIT16.trains_on_captions
    caption_fix = ("caption the dataset with BLIP first (`bench captions blip --dataset NAME`) and run with "
                   "--captions blip")
