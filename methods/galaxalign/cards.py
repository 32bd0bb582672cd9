"""GalaxAlign's methods as the registry sees them before importing any model code (or torch)."""

from bench.api.method import MethodCard
from methods.galaxalign.variants import VARIANTS, random_init_aliases

GALAXALIGN_VIT16 = MethodCard(
    "galaxalign-vit16", "GalaxAlign: tri-modal (image, text, symbol) fine-tune of open_clip ViT-B/16 (LAION-2B)",
    VARIANTS, "methods.galaxalign.plugin:GalaxAlignViT16", random_init_aliases(),
)
GALAXALIGN_CONVNEXT = MethodCard(
    "galaxalign-convnext",
    "GalaxAlign: tri-modal (image, text, symbol) fine-tune of open_clip ConvNeXt-Base (LAION-400M)",
    VARIANTS, "methods.galaxalign.plugin:GalaxAlignConvNeXt", random_init_aliases(),
)
