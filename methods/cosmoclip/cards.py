"""cosmoclip-vit16 as the registry sees it before importing any model code (or torch)."""

from bench.api.method import MethodCard

COSMOCLIP_VIT16 = MethodCard(
    "cosmoclip-vit16", "CosmoCLIP's recipe: CLIP ViT-B/16 (OpenAI) fine-tuned on each image's BLIP caption",
    ("default",), "methods.cosmoclip.plugin:CosmoclipViT16", trains_on_captions=True,
    recipe_source="CosmoCLIP (Imam et al. 2024)", captions="blip",
)
