"""A third-party method package, as another project would write one (used through a dist-info on sys.path)."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.api.data import GalaxyData
from bench.api.method import BuildContext, FinetuneConfig, FitReport
from bench.api.profiles import Profile
from bench.api.weights import ResolvedWeights, WeightsSpec
from bench.train.classifier import BackboneClassifier
from bench.train.preprocess import Preprocessing


class TinyConvNet(BackboneClassifier):
    name = "tiny-convnet"
    summary = "a two-layer CNN from a plugin package"
    notes = "pretrained on the test set (a caveat the leaderboard must show)"

    def weights_spec(self, profile: Profile, options: Mapping[str, str] | None = None) -> WeightsSpec | None:
        return None

    def default_config(self, profile: Profile) -> FinetuneConfig:
        return FinetuneConfig(epochs=1, batch_size=32, lr=1e-3, weight_decay=0.0)

    def create_backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        return backbone, 16, Preprocessing(image_size=32)


class ExplodingNet(TinyConvNet):
    """Its outputs become NaN: the training loop must stop with a clear error."""

    name = "exploding-net"
    summary = "produces NaN logits"

    def create_backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        backbone, size, prep = super().create_backbone(ctx, weights)
        return nn.Sequential(backbone, _TimesNaN()), size, prep


class _TimesNaN(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


class NoBackbone(BackboneClassifier):
    """Forgets ``create_backbone``: registering it must fail with one line."""

    name = "no-backbone"
    summary = "a plugin that does not say how to build its backbone"

    def weights_spec(self, profile: Profile, options: Mapping[str, str] | None = None) -> WeightsSpec | None:
        return None

    def default_config(self, profile: Profile) -> FinetuneConfig:
        return FinetuneConfig(epochs=1, batch_size=32, lr=1e-3, weight_decay=0.0)



class PreemptedOnce(TinyConvNet):
    """The first process to fine-tune it is sent the signals ``stops`` names all at once, as SLURM preempts a
    task (SIGTERM, and SIGUSR2 where it is set to warn), and leaves a marker file named after the method in
    ``$BENCH_TEST_STOP_MARKERS``; a requeued task must then run it again, to the end."""

    name = "preempted-once"
    stops: tuple[str, ...] = ("TERM", "USR2")

    def finetune(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> FitReport:
        marker = Path(os.environ["BENCH_TEST_STOP_MARKERS"]) / self.name
        if not marker.exists():
            marker.touch()
            stops = {getattr(signal, f"SIG{name}") for name in self.stops}
            signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # delivered together when unblocked
            for each in stops:
                os.kill(os.getpid(), each)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
        return super().finetune(train, val, cfg)


class TimedOutOnce(PreemptedOnce):
    """As PreemptedOnce, stopped as SLURM warns of a time limit: SIGUSR2 alone."""

    name = "timed-out-once"
    stops = ("USR2",)


class TerminatedOnce(PreemptedOnce):
    """As PreemptedOnce, stopped by SIGTERM alone (preemption where no warning signal is set)."""

    name = "terminated-once"
    stops = ("TERM",)


class RankOneFails(TinyConvNet):
    """Trained as DDP ranks, its rank 1 fails in its first step (raising, or killed by ``kill_with``)."""

    name = "rank-one-fails"
    summary = "fails on DDP rank 1"
    kill_with: int | None = None

    def create_backbone(self, ctx: BuildContext, weights: ResolvedWeights) -> tuple[nn.Module, int, Preprocessing]:
        backbone, size, prep = super().create_backbone(ctx, weights)
        return nn.Sequential(_FailsOnRankOne(self.kill_with), backbone), size, prep


class RankOneKilled(RankOneFails):
    name = "rank-one-killed"
    summary = "killed by SIGKILL on DDP rank 1"
    kill_with = signal.SIGKILL


class _FailsOnRankOne(nn.Module):
    def __init__(self, kill_with: int | None) -> None:
        super().__init__()
        self.kill_with = kill_with

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from bench.train.distributed import world

        if self.training and world().rank == 1:
            if self.kill_with is not None:
                os.kill(os.getpid(), self.kill_with)
            raise RuntimeError("rank 1 lost its device")
        return x


class ColourSearcher(TinyConvNet):
    """Embeds text and saves models without phrasing queries: `bench search` must serve it as it does GalaxAlign.
    An image embeds as its mean colour through a saved 3 x 3 mix; a text as its counts of "red", "green", "blue"."""

    name = "colour-searcher"
    summary = "colour words against mean colours"
    WORDS = ("red", "green", "blue")

    def __init__(self) -> None:
        super().__init__()
        self.mix = torch.eye(3)

    def embed(self, data: GalaxyData) -> torch.Tensor:
        colours = torch.from_numpy(data.read(np.arange(len(data))).astype(np.float32)).mean(dim=(1, 2))
        return torch.nn.functional.normalize(colours @ self.mix, dim=1)

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        counts = [[text.split().count(word) for word in self.WORDS] for text in texts]
        return torch.nn.functional.normalize(torch.tensor(counts, dtype=torch.float32) + 1e-3, dim=1)

    def save(self, path: str | Path) -> Path:
        torch.save({"mix": self.mix}, path)
        return Path(path)

    def load(self, path: str | Path, device: torch.device | str | None = None) -> None:
        self.mix = torch.load(path, weights_only=True)["mix"]
