"""The world of one cell's ranks: launching them as torchrun does, and the collectives the loop and losses use.

A cell trained on N devices runs as N processes (ranks), each on its own device, that together form one
``torch.distributed`` process group (gloo on the CPU, nccl on CUDA). Every helper here also works
outside such a world: a process that never initialised ``torch.distributed`` is a world of size 1, where
each helper returns its input (no communication, no cost).

A global batch is split into equal, contiguous shards, one per rank, after trimming it to a multiple of
the world size (the last ``len % size`` indices are dropped), so that rank r's shard is the r-th slice
and gathering the shards in rank order gives back the trimmed global batch.
"""

from __future__ import annotations

import math
import os
import pickle
import socket
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
import torch.multiprocessing as mp
from torch import nn
from torch.multiprocessing.spawn import ProcessException
from torch.nn.parallel import DistributedDataParallel

from bench.api.errors import BenchError

TIMEOUT = timedelta(minutes=30)  # a collective waiting longer than this (a rank stuck, not failed) fails the cell
RankFunction = Callable[..., Any]  # fn(rank, device, *args) -> rank 0's result (other ranks' are ignored)


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of one cell."""

    rank: int = 0
    size: int = 1


def world() -> World:
    """The current world: size 1 unless ``torch.distributed`` is initialised."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size())


def shard(indices: np.ndarray, current: World) -> np.ndarray:
    """This rank's equal part of a global batch, trimmed first to a multiple of the world size."""
    if current.size == 1:
        return indices
    per_rank = len(indices) // current.size
    return indices[current.rank * per_rank : (current.rank + 1) * per_rank]


def gather(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's ``tensor`` concatenated in rank order along the first dimension, with gradient:
    backward sums each rank's gradient of its slot and hands it back to the rank that holds it (as
    open_clip's ``ClipLoss(gather_with_grad=True)``). With every rank computing the same loss of the
    gathered batch, DDP's averaging then gives each parameter the gradient of that one loss."""
    if world().size == 1:
        return tensor
    with warnings.catch_warnings():  # torch 2.14 deprecates it for a private module's; open_clip still uses it
        warnings.filterwarnings("ignore", "torch.distributed.nn.functional.all_gather is deprecated", FutureWarning)
        return torch.cat(dist_nn.all_gather(tensor))


def _collective_device() -> torch.device:
    """Where a tensor must be for the process group's backend: the rank's GPU under nccl, else the CPU."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def mean_across(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each (scalar) value averaged over the ranks, in one collective; unchanged in a world of size 1."""
    size = world().size
    if size == 1 or not values:
        return values
    names = sorted(values)
    stacked = torch.stack([values[name].detach().float().to(_collective_device()) for name in names])
    dist.all_reduce(stacked)
    return dict(zip(names, stacked / size, strict=True))


def from_rank0(compute: Callable[[], float]) -> float:
    """``compute()`` run on rank 0 only, its value given to every rank (e.g. a validation score, so that
    every rank takes the same early-stopping decision)."""
    current = world()
    if current.size == 1:
        return compute()
    value = torch.tensor([compute() if current.rank == 0 else math.nan], dtype=torch.float64,
                         device=_collective_device())
    dist.broadcast(value, src=0)
    return float(value.item())


def rank_devices(first: torch.device, count: int) -> tuple[torch.device, ...]:
    """The devices of ``count`` ranks starting at ``first``: cpu -> count x cpu, cuda:i -> cuda:i .. i+count-1."""
    if count < 1:
        raise BenchError(f"--gpus-per-cell {count} is not a positive number", "pass --gpus-per-cell 1 or more")
    if first.type == "cpu":
        return (first,) * count
    if first.type != "cuda":
        raise BenchError(f"--gpus-per-cell runs on cpu or cuda, not {first.type}", "pass --device cuda or cpu")
    start = first.index or 0
    if start + count > torch.cuda.device_count():
        raise BenchError(
            f"{count} ranks from cuda:{start} need {start + count} GPUs; this machine has {torch.cuda.device_count()}",
            "lower --gpus-per-cell, or start from a lower --device cuda:I",
        )
    return tuple(torch.device("cuda", start + r) for r in range(count))


class RankFailed(Exception):
    """A rank of a launched world failed: ``line`` says which and why, ``details`` its traceback."""

    def __init__(self, line: str, details: str) -> None:
        super().__init__(line)
        self.line, self.details = line, details


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rank_main(rank: int, devices: Sequence[torch.device], port: int, folder: str, fn: RankFunction,
               args: tuple[Any, ...], describe: Callable[[BaseException], str]) -> None:
    """One rank: join the group as torchrun's environment says, run ``fn``, leave its outcome in ``folder``."""
    device = devices[rank]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(len(devices)))
    if rank > 0:  # one progress bar and one set of messages: rank 0's
        os.environ["BENCH_NO_PROGRESS"] = "1"
        from bench.io.progress import console

        console.quiet = True
    if device.type == "cuda":
        torch.cuda.set_device(device)
    else:  # the ranks share the machine's cores, as torchrun's OMP_NUM_THREADS does
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // len(devices)))
    try:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=len(devices),
                                timeout=TIMEOUT)
        try:
            result = fn(rank, device, *args)
        finally:
            dist.destroy_process_group()
    except Exception as error:
        line = describe(error).strip().splitlines()[0]
        _write(Path(folder) / f"rank{rank}.pkl", ("failed", time.time(), line, traceback.format_exc()))
        raise
    if rank == 0:
        _write(Path(folder) / "rank0.pkl", ("ok", result))


def _write(path: Path, outcome: tuple[Any, ...]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_bytes(pickle.dumps(outcome))
    partial.replace(path)


def launch(fn: RankFunction, args: tuple[Any, ...], devices: Sequence[torch.device], folder: Path,
           describe: Callable[[BaseException], str] = str) -> Any:
    """Run ``fn(rank, device, *args)`` on one spawned process per device, as one process group, and return
    rank 0's result (picklable; it travels through a file in a temporary folder under ``folder``, removed
    after). When a rank fails, the others are stopped and ``RankFailed`` says, in one line made by
    ``describe``, why the rank that failed first did; interrupted, the ranks are stopped too."""
    with tempfile.TemporaryDirectory(prefix=".ranks-", dir=folder) as scratch:
        context = mp.start_processes(_rank_main, args=(tuple(devices), _free_port(), scratch, fn, args, describe),
                                     nprocs=len(devices), join=False, start_method="spawn")
        try:
            while not context.join():
                pass
        except ProcessException as error:
            raise _first_failure(Path(scratch), error) from None
        finally:
            for process in context.processes:
                if process.is_alive():
                    process.terminate()
                    process.join()
        result = Path(scratch) / "rank0.pkl"
        if not result.exists():  # its SIGINT alone (torch's spawn exits 0 on it)
            raise RankFailed("rank 0: interrupted before it finished", "rank 0 left no result")
        return pickle.loads(result.read_bytes())[1]


def _first_failure(scratch: Path, error: ProcessException) -> RankFailed:
    """The rank that failed first (the others' errors follow from it: a peer gone), or, when none could say
    (killed by a signal), the one the launcher saw exit."""
    failures = []
    for path in scratch.glob("rank*.pkl"):
        outcome = pickle.loads(path.read_bytes())
        if outcome[0] == "failed":
            failures.append((outcome[1], int(path.stem.removeprefix("rank")), outcome[2], outcome[3]))
    if not failures:
        return RankFailed(f"rank {error.error_index}: {str(error).strip().splitlines()[-1]}", str(error))
    _, rank, line, details = min(failures)
    return RankFailed(f"rank {rank}: {line}", details)


class _Loss(nn.Module):
    """An objective's loss as a module's forward, so DistributedDataParallel sees every step through it."""

    def __init__(self, module: nn.Module, loss: Callable[[torch.Tensor, torch.Tensor], Any]) -> None:
        super().__init__()
        self.module, self.loss = module, loss

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> Any:
        return self.loss(images, labels)


def data_parallel(module: nn.Module, loss: Callable[[torch.Tensor, torch.Tensor], Any],
                  device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], Any]:
    """``loss`` of ``module``'s parameters computed through DistributedDataParallel: after backward each
    gradient is the mean of the ranks' (a mean loss over equal shards: the global batch's gradient).
    On CUDA ``module``'s BatchNorm layers become SyncBatchNorm (statistics of the global batch); gloo has
    no SyncBatchNorm, so on the CPU they normalise each rank's shard by its own statistics, and the
    running statistics kept are rank 0's (DDP broadcasts its buffers every step). Parameters a loss may
    leave out of a step (a stage's unused encoder) are allowed: ``find_unused_parameters``."""
    wrapper = _Loss(module, loss)
    if device.type == "cuda":
        nn.SyncBatchNorm.convert_sync_batchnorm(wrapper)
    return DistributedDataParallel(wrapper, device_ids=[device] if device.type == "cuda" else None,
                                   find_unused_parameters=True)
