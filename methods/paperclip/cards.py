"""paperclip-vit16 as the registry sees it before importing any model code (or torch)."""

from bench.api.method import MethodCard

PAPERCLIP_VIT16 = MethodCard(
    "paperclip-vit16", "PAPERCLIP's recipe: CLIP ViT-B/16 (OpenAI) fine-tuned on each image's own caption",
    ("default",), "methods.paperclip.plugin:PaperclipViT16", trains_on_captions=True,
    recipe_source="PAPERCLIP (Mishra-Sharma et al. 2024)",
)
