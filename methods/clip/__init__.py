"""The CLIP machinery every open_clip method of the bench shares, and the family's baseline clip-vit16.

Modules: model (open_clip build, weights, the image-text encoder pair), loss (CLIP's contrastive loss),
stage (a contrastive fine-tune as one call of the shared loop), text (class-description overrides,
zero-shot classifier), base (build, embeddings, checkpoints of a CLIP method), plugin (the contrastive
CLIP methods: clip-vit16 here, paperclip-vit16 and cosmoclip-vit16 in their packages), recipe.
"""
