"""Run profiles: the paper's settings, and a small demo that runs on a laptop CPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bench.errors import BenchError

Init = Literal["pretrained", "random"]
ModelScale = Literal["tiny", "full"]


@dataclass(frozen=True)
class Profile:
    """How big the models are, what they start from and how long they train."""

    name: str
    description: str
    image_size: int
    model_scale: ModelScale
    default_init: Init
    epochs: int
    patience: int
    batch_size: int


PROFILES: dict[str, Profile] = {
    "demo": Profile(
        name="demo",
        description="tiny same-family models from random init, 64 px, a few epochs: minutes on 2 CPU cores",
        image_size=64,
        model_scale="tiny",
        default_init="random",
        epochs=8,
        patience=3,
        batch_size=64,
    ),
    "paper": Profile(
        name="paper",
        description="full-size pretrained models at 224 px, trained until validation macro-F1 stops improving",
        image_size=224,
        model_scale="full",
        default_init="pretrained",
        epochs=30,
        patience=5,
        batch_size=64,
    ),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise BenchError(f"unknown profile {name!r}", f"use one of {', '.join(PROFILES)}") from None
