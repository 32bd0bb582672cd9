"""Text beside the images: each dataset's class descriptions and zero-shot prompt templates (shipped as
TOML beside the datasets), and the per-image captions a run pairs with its images."""
