"""The interface every model is benchmarked through: build, finetune, embed, predict."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar, get_args, runtime_checkable

from bench.api.data import GalaxyData
from bench.api.errors import BenchError
from bench.api.profiles import Init, Profile
from bench.api.weights import ResolvedWeights, WeightsSpec

if TYPE_CHECKING:
    import torch

# full: fine-tune everything through the shared loop; linear: a head on a frozen backbone's cached
# features; zoobot: the Zoobot methods trained by zoobot's own fine-tuning code and trainer.
Adapt = Literal["full", "linear", "zoobot"]
ADAPTS: tuple[str, ...] = get_args(Adapt)
ADAPT_TITLES: dict[str, str] = {"full": "fine-tuned", "linear": "frozen", "zoobot": "zoobot recipe"}  # in reports
# The learning-rate schedule of a fine-tune: linear warm-up then cosine decay; linear decay to zero from
# the first step (Hugging Face Trainer's default, as Lastufka et al. trained); a constant rate; or linear
# warm-up then a constant rate (PAPERCLIP's).
Schedule = Literal["warmup_cosine", "linear", "constant", "warmup_constant"]


@dataclass(frozen=True)
class MethodCard:
    """What a method is, known without importing it: the ``bench.methods`` entry point names a card,
    and ``implementation`` ("module:Class") is imported only when a run needs the method."""

    name: str
    summary: str
    variants: tuple[str, ...]  # the first is the default
    implementation: str
    # (variant, the variant it is identical to when runs start from random init): e.g. GalaxAlign's
    # "scratch" is "full" without pretrained weights, so under --init random the grid runs "full" once.
    random_init_aliases: tuple[tuple[str, str], ...] = ()
    # It trains on each image's own caption (bench/data/captions/), so the run's caption source is part of
    # its identity (bench/run/inputs.py), as it is for every run of a task that reads captions.
    trains_on_captions: bool = False
    # The caption source its recipe trains on where no --captions is given (CosmoCLIP: "blip"), under the
    # profiles of full-size models; the tiny demo models train on the dataset's own captions instead.
    captions: str | None = None
    # The published recipe it follows, re-trained here by our loop on the benchmark's data because no fine-tuned
    # weights were released (e.g. "PAPERCLIP (Mishra-Sharma et al. 2024)"); the leaderboard labels its rows so.
    recipe_source: str | None = None


def check_options(method: str, options: Mapping[str, str], known: Mapping[str, str]) -> None:
    """BenchError for an ``--option`` key ``method`` does not take; ``known`` maps each key it takes
    to what it sets."""
    unknown = sorted(set(options) - set(known))
    if not unknown:
        return
    if not known:
        raise BenchError(f"{method} takes no --option, got {unknown}", "drop the --option settings for this method")
    listed = "; ".join(f"{key}: {meaning}" for key, meaning in known.items())
    raise BenchError(f"{method} has no option(s) {unknown}", f"use --option KEY=VALUE with KEY one of: {listed}")


MethodClass = TypeVar("MethodClass", bound=type)


def implements(card: MethodCard) -> Callable[[MethodClass], MethodClass]:
    """Class decorator: the class takes its name, summary and variants from ``card``."""

    def apply(cls: MethodClass) -> MethodClass:
        cls.name, cls.summary, cls.variants = card.name, card.summary, card.variants  # type: ignore[attr-defined]
        return cls

    return apply


@dataclass(frozen=True)
class FinetuneConfig:
    """Every hyperparameter of one fine-tune; stored whole in the run record."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup_epochs: float = 1.0  # of the warmup_cosine and warmup_constant schedules
    warmup_steps: int | None = None  # a warm-up of this many optimiser steps instead (e.g. PAPERCLIP's 2,000)
    schedule: Schedule = "warmup_cosine"
    # Epochs without a better validation macro-F1 before stopping (the best epoch is kept); None: train
    # every epoch and keep the last.
    patience: int | None = 3
    # Every epoch (one validation period) trains on at least this many images, in repeated shuffled
    # passes when the training set is smaller, so a small training fraction gets a fair number of
    # optimiser steps rather than a handful. The runner sets it from the profile's
    # ``fraction_epoch_share`` of the full training split.
    min_epoch_images: int = 0
    adapt: Adapt = "full"  # full fine-tuning, or a linear probe on a frozen backbone
    augment: bool = True  # flips and rotations by any angle: galaxies have no up
    label_smoothing: float = 0.0
    head_dropout: float = 0.0  # dropout on the pooled features before the linear head
    layer_decay: float | None = None  # layer-wise lr decay: block i from the top gets lr * decay**i
    eval_batch_size: int = 256
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BuildContext:
    """What a method needs to build its model for one run."""

    class_names: tuple[str, ...]
    profile: Profile
    init: Init
    device: torch.device
    variant: str = "default"
    weights_file: str | None = None  # --weights METHOD=PATH
    weights_dir: str | None = None  # BENCH_WEIGHTS_DIR
    options: Mapping[str, str] = field(default_factory=dict)  # method-specific --option KEY=VALUE
    # The dataset's table of its classes as text (DatasetInfo.text; see bench/data/captions/classes.py).
    text_table: str | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass
class FitReport:
    """What happened during fine-tuning."""

    epochs_run: int
    best_epoch: int
    best_val_score: float | None
    train_images: int  # images seen in training steps
    train_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def train_images_per_s(self) -> float:
        return self.train_images / self.train_seconds if self.train_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "train_images_per_s": self.train_images_per_s}


@runtime_checkable
class Method(Protocol):
    """A model under benchmark. One instance serves one run: build, finetune, then evaluate."""

    name: ClassVar[str]
    summary: ClassVar[str]
    variants: ClassVar[tuple[str, ...]]  # the first is the default

    def weights_spec(self, profile: Profile, options: Mapping[str, str] | None = None) -> WeightsSpec | None:
        """Where the pretrained weights for ``profile`` live (None: the profile has none), with the
        run's ``--option`` settings, some of which may pick other weights (e.g. a pretrained tag);
        BenchError for a setting that names no published weights."""
        ...

    def default_config(self, profile: Profile) -> FinetuneConfig: ...

    def build(self, ctx: BuildContext) -> ResolvedWeights:
        """Create the model (loading weights as ``ctx.init`` says) and report where they came from."""
        ...

    def finetune(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> FitReport: ...

    def embed(self, data: GalaxyData) -> torch.Tensor:
        """(N, D) float32 L2-normalised retrieval embeddings."""
        ...

    def predict(self, data: GalaxyData) -> torch.Tensor:
        """(N, C) class scores."""
        ...
