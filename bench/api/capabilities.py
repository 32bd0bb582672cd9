"""What a method may do beyond the Method protocol (bench/api/method.py), each a small named
Protocol that a method has by defining its members. Code that needs one checks
``isinstance(method, Capability)`` and otherwise raises ``lacking(...)``, which names the missing
capability and the registered methods that have it.

- ``TrainsObjectives`` (in bench/train/loop.py, beside the ``FitCall`` it hands over): its fine-tune
  trains through the shared loop and it hands over what it trains; `bench perf` times that objective
  with ``TrainStep``.
- ``SavesModel``: a fine-tuned model goes to one file and comes back without ``build``;
  `bench run --save-models` saves it beside the run's record.
- ``EmbedsText``: text queries embed into the space of its image embeddings; the zeroshot, text2image
  and image2text tasks, and `bench search`.
- ``PhrasesQueries``: a text-embedding method's own form for a search query (e.g. its training prompts'
  "A picture of ..."); `bench search` embeds the query as typed without it.
- ``TrainsZoobotRecipe``: ``--adapt zoobot`` trains it with zoobot's own fine-tuning code and trainer,
  under the FinetuneConfig its ``zoobot_config`` states (bench/run/runner.py records that config).
- ``SelectsWeights``: an ``--option`` picks its pretrained weights among several published tags;
  `bench weights` lists them.

A plugin's own CLI commands are not a capability of a method: a package adds them through the
``bench.commands`` entry-point group (``register(app: typer.Typer) -> None``, see
bench/api/registry.py), as GalaxAlign adds `bench symbols`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bench.api.data import GalaxyData
from bench.api.errors import BenchError
from bench.api.method import FinetuneConfig, Method
from bench.api.profiles import Profile
from bench.api.weights import WeightsChoice

if TYPE_CHECKING:
    import torch


@runtime_checkable
class SavesModel(Protocol):
    """A fine-tuned model that can be written to one file and read back into a fresh instance."""

    def save(self, path: str | Path) -> Path:
        """Write the fine-tuned model to ``path``; returns the file written."""
        ...

    def load(self, path: str | Path, device: torch.device | str | None = None) -> None:
        """Restore a model written by ``save``, with no ``build`` (and no pretrained weights) first."""
        ...


@runtime_checkable
class EmbedsText(Protocol):
    """Text and images embedded into one space: ``embed_text`` rows compare with ``embed`` rows
    by dot product."""

    def embed(self, data: GalaxyData) -> torch.Tensor:
        """(N, D) float32 L2-normalised image embeddings."""
        ...

    def embed_text(self, texts: list[str]) -> torch.Tensor:
        """(len(texts), D) float32 L2-normalised text embeddings, on the CPU."""
        ...


@runtime_checkable
class PhrasesQueries(Protocol):
    """A free-text search query put in the form the method's text encoder was trained on."""

    def query_text(self, query: str) -> str:
        """``query`` (stripped) as the method embeds it, e.g. "A picture of a barred spiral"."""
        ...


@runtime_checkable
class TrainsZoobotRecipe(Protocol):
    """Fine-tunes through zoobot's ``FinetuneableZoobotClassifier`` and trainer when ``cfg.adapt`` is "zoobot"."""

    def zoobot_config(self, profile: Profile) -> FinetuneConfig:
        """The settings zoobot's recipe trains with under ``profile``, as the run records them."""
        ...


@runtime_checkable
class SelectsWeights(Protocol):
    """Pretrained weights chosen among several published ones by an ``--option`` (e.g. timm's tags)."""

    def weights_choice(self, profile: Profile) -> WeightsChoice | None:
        """The option and the tags it takes under ``profile``; None where the profile has no weights."""
        ...


def lacking(method: Method, capability: type, purpose: str) -> BenchError:
    """The error for ``method`` without ``capability``, naming it and the registered methods that have
    it; ``purpose`` completes "<method> cannot ..."."""
    from bench.api import registry

    having = registry.methods_with(capability)
    return BenchError(
        f"{method.name} cannot {purpose}: it lacks the {capability.__name__} capability "
        f"(bench/api/capabilities.py)",
        f"use a method that has it: {', '.join(having)}" if having else "no registered method has it",
    )
