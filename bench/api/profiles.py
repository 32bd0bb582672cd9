"""Run profiles: the paper's settings, and a small demo that runs on a laptop CPU."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bench.api.errors import BenchError

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
    # An epoch on a training fraction covers at least this share of the full training split
    # (FinetuneConfig.min_epoch_images): a budget choice, as the paper does not say.
    fraction_epoch_share: float
    # The dataset each paper dataset is replaced by under this profile (the demo runs the paper's
    # grids on synthetic look-alikes, the paper profile GalaxyMNIST at 224 px); a dataset not named
    # here runs as itself.
    stand_ins: Mapping[str, str] = field(default_factory=dict)
    # The seeds every block of a shipped grid runs under this profile (None: each block's own, as
    # `bench run --grid ... --all-seeds` asks for).
    grid_seeds: tuple[int, ...] | None = None

    def dataset_for(self, paper_dataset: str) -> str:
        return self.stand_ins.get(paper_dataset, paper_dataset)

    def paper_dataset_of(self, dataset: str) -> str:
        """The paper dataset that ``dataset`` (``demo:N`` counts as ``demo``) stands in for under this
        profile; itself if none."""
        base = dataset.partition(":")[0]
        stood_for = (paper for paper, stand_in in self.stand_ins.items() if stand_in.partition(":")[0] == base)
        return next(stood_for, dataset)


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
        fraction_epoch_share=0.25,
        # Small stand-ins (600 images each) keep the whole paper grid to minutes on 2 CPU cores.
        stand_ins={"galaxy10_decals": "demo:60", "galaxy_mnist": "demo_mnist:150"},
        # One seed keeps the README's first command short; `--all-seeds` runs the grids' three.
        grid_seeds=(0,),
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
        fraction_epoch_share=0.1,
        # The paper's models see 224 px: GalaxyMNIST's 224 px release, not 64 px images upscaled.
        stand_ins={"galaxy_mnist": "galaxy_mnist_224"},
    ),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise BenchError(f"unknown profile {name!r}", f"use one of {', '.join(PROFILES)}") from None
