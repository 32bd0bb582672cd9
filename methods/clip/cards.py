"""clip-vit16 as the registry sees it before importing any model code (or torch)."""

from bench.api.method import MethodCard

CLIP_VIT16 = MethodCard(
    "clip-vit16", "CLIP ViT-B/16 (OpenAI): fine-tuned on class captions with the plain CLIP loss, or zero-shot",
    ("finetune", "zeroshot"), "methods.clip.plugin:ClipViT16",
)
