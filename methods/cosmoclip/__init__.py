"""CosmoCLIP (Imam et al. 2024) as a recipe re-trained here: OpenAI's CLIP ViT-B/16 fine-tuned on each
image's BLIP caption (recipe.py: every setting, its source, and what the paper does not state)."""
