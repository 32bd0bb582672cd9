"""One cell trained as DDP ranks (`bench run --gpus-per-cell N`): which cells can be, and running one.

The runner's process stays the agent: it holds the cell's claim and writes its record. It spawns one
process per rank (bench.train.distributed.launch); every rank loads the data, builds the model and
trains on its shard of each batch, and rank 0 alone then evaluates (once) and hands the outcome back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch

from bench.api import registry
from bench.api.capabilities import lacking
from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.run import provenance
from bench.run.store import ResultStore
from bench.train.distributed import launch, rank_devices
from bench.train.loop import TrainsObjectives

if TYPE_CHECKING:
    from bench.run.runner import RunSettings

PURPOSE = "train on several ranks (--gpus-per-cell)"


def check_splittable(specs: Sequence[RunSpec]) -> None:
    """A BenchError unless every spec trains through the shared loop, the only training split over ranks
    (a linear probe on cached features and a library's own recipe, e.g. zoobot's, are not)."""
    for spec in specs:
        if spec.adapt != "full":
            raise BenchError(
                f"--adapt {spec.adapt} cannot {PURPOSE}: only --adapt full trains through the shared loop",
                "run it with --gpus-per-cell 1, or use --adapt full",
            )
        method = registry.create_method(spec.method)
        if not isinstance(method, TrainsObjectives):
            raise lacking(method, TrainsObjectives, PURPOSE)


def train_and_evaluate(settings: RunSettings, spec: RunSpec) -> dict[str, Any]:
    """``spec``'s outcome trained on ``settings.rank_devices`` (its fields as the runner's own
    ``_train_and_evaluate`` gives them, with rank 0's peak memory); a failed rank raises RankFailed."""
    from bench.run.runner import describe_error  # the runner imports this module

    folder = ResultStore(settings.results).path_for(spec).parent  # the outcome travels through a file here
    folder.mkdir(parents=True, exist_ok=True)
    return launch(_rank, (settings, spec), settings.rank_devices, folder, describe_error)


def _rank(rank: int, device: torch.device, settings: RunSettings, spec: RunSpec) -> dict[str, Any] | None:
    """One rank's part: train; on rank 0 evaluate too and return the outcome."""
    from bench.run.runner import Runner

    runner = Runner(replace(settings, device=device, rank_devices=()))
    provenance.reset_peak_memory(device)
    outcome = runner._train_and_evaluate(spec, train_only=rank > 0)
    return {**outcome, **provenance.peak_memory(device)} if rank == 0 else None


def cell_ranks(first: torch.device, count: int, specs: Sequence[RunSpec],
               executor: str | None = None) -> tuple[torch.device, ...]:
    """``RunSettings.rank_devices`` of this process for ``--gpus-per-cell count`` from ``first`` on: none for
    one (one process, as ever); for more, every spec is checked to be splittable first. Under an
    ``executor`` none either: this process runs no cell, its workers and SLURM tasks take their own."""
    if count == 1:
        return ()
    check_splittable(specs)
    return () if executor is not None else rank_devices(first, count)
