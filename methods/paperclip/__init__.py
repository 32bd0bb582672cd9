"""PAPERCLIP (Mishra-Sharma, Song, Thaler 2024) as a recipe re-trained here: OpenAI's CLIP ViT-B/16
fine-tuned on each image's own caption (recipe.py: every setting and its source)."""
