"""The text side of the CLIP methods: class descriptions a user overrides, and CLIP's zero-shot classifier."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.api.text import ClassText
from bench.data.captions.tables import read_mapping


def read_overrides(path: str | Path) -> dict[str, str]:
    """``{class name: description}`` from a JSON file (``--option prompts=PATH``), checked."""
    fix = 'write a JSON object {"class name": "description", ...}'
    return read_mapping(
        path, "prompts", fix, lambda value: bool(value.strip()), "is not an object of non-empty strings"
    )


def zeroshot_classifier(embed_text: Callable[[list[str]], torch.Tensor], class_text: ClassText) -> torch.Tensor:
    """(C, D) CLIP's zero-shot classifier (Radford et al. 2021, prompt ensembling): each class's prompts
    (every template filled with its description) embedded and L2-normalised, averaged, re-normalised."""
    means = [embed_text(class_text.prompts(c)).mean(0) for c in range(len(class_text.descriptions))]
    return F.normalize(torch.stack(means), dim=-1)
