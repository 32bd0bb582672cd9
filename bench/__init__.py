"""galaxy-bench: which pretrained vision model, adapted how, classifies and retrieves galaxies best."""

__version__ = "0.1.0"
