"""The one fine-tuning loop every method shares: AdamW, a learning-rate schedule, early stopping."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from bench.api.data import GalaxyData
from bench.api.errors import BenchError
from bench.api.method import FinetuneConfig, FitReport, Schedule
from bench.io.progress import progress_bar
from bench.train.device_data import device_reader
from bench.train.distributed import World, data_parallel, from_rank0, mean_across, shard, world
from bench.train.preprocess import Preprocessing, to_device

LossTerms = dict[str, torch.Tensor]


@dataclass
class Objective:
    """What to train and how to judge it.

    ``loss`` maps a prepared image batch and its labels to named loss terms whose ``"loss"``
    entry is optimised; ``score`` returns the validation score (higher is better) used for
    early stopping, or is None to train for the full number of epochs. ``after_step``, when
    given, runs after every optimiser step (e.g. to clamp a learned temperature as CLIP does).
    ``parameters`` (tensors or AdamW parameter groups) is kept as a list, so several optimisers
    can be built over one objective (`bench perf` times it more than once).
    """

    module: nn.Module
    parameters: Iterable[Any]
    loss: Callable[[torch.Tensor, torch.Tensor], LossTerms]
    score: Callable[[], float] | None
    after_step: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self.parameters = list(self.parameters)


def autocast(device: torch.device) -> Any:
    """bf16 autocast on CUDA; plain fp32 elsewhere."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def batch_indices(order: np.ndarray, batch_size: int, drop_single_last: bool = False) -> Iterator[np.ndarray]:
    """Consecutive batches of ``order``; a trailing batch of one image can be dropped, since
    BatchNorm cannot train on a single image."""
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        if drop_single_last and len(chunk) == 1 and start > 0:
            return
        yield chunk


def epoch_batches(
    num_images: int, batch_size: int, steps: int, generator: torch.Generator
) -> Iterator[np.ndarray]:
    """The batches of one epoch: a shuffled pass over the images, or, when that gives fewer than
    ``steps`` batches, ``steps`` batches taken from consecutive shuffled passes."""
    if steps <= math.ceil(num_images / batch_size):
        order = torch.randperm(num_images, generator=generator).numpy()
        yield from batch_indices(order, batch_size, drop_single_last=True)
        return
    passes = math.ceil(steps * batch_size / num_images)
    order = torch.cat([torch.randperm(num_images, generator=generator) for _ in range(passes)]).numpy()
    for step in range(steps):
        yield order[step * batch_size : (step + 1) * batch_size]


def steps_per_epoch(num_images: int, cfg: FinetuneConfig) -> int:
    """Optimiser steps per epoch: one pass over ``num_images``, or enough for ``cfg.min_epoch_images``."""
    return max(math.ceil(num_images / cfg.batch_size), math.ceil(cfg.min_epoch_images / cfg.batch_size), 1)


class EarlyStopping:
    """Tracks the best validation score, keeps a CPU copy of the module's state at that epoch,
    and says when ``patience`` epochs have passed without a better score. With ``patience`` None
    training never stops early and the last epoch is the one kept (its score is reported)."""

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.best_score = -math.inf
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stale_epochs = 0
        self.scored = False

    def update(self, score: float, epoch: int, module: nn.Module) -> bool:
        """Record ``score`` for ``epoch``; True when training should stop."""
        self.scored = True
        if self.patience is None:  # keep the last epoch: the module already holds it
            self.best_score, self.best_epoch = score, epoch
            return False
        if score > self.best_score:
            self.best_score, self.best_epoch, self.stale_epochs = score, epoch, 0
            self.best_state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
        else:
            self.stale_epochs += 1
        return self.stale_epochs >= self.patience

    def restore(self, module: nn.Module) -> None:
        if self.best_state is not None:
            module.load_state_dict(self.best_state)

    def report(self, history: list[dict[str, float]], train_images: int, train_seconds: float) -> FitReport:
        return FitReport(
            epochs_run=len(history),
            best_epoch=self.best_epoch if self.scored else len(history),
            best_val_score=self.best_score if self.scored else None,
            train_images=train_images,
            train_seconds=train_seconds,
            history=history,
        )


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Learning-rate multiplier: linear warm-up, then cosine decay to zero."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def linear_decay(total_steps: int) -> Callable[[int], float]:
    """Learning-rate multiplier: linear decay from 1 at the first step to 0 after the last, no warm-up
    (Hugging Face Trainer's default ``linear`` schedule with ``warmup_steps=0``)."""
    return lambda step: max(0.0, (total_steps - step) / max(1, total_steps))


def lr_factor(schedule: Schedule, total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """The multiplier of ``cfg.lr`` at each optimiser step of ``schedule``."""
    if schedule == "warmup_cosine":
        return warmup_cosine(total_steps, warmup_steps)
    if schedule == "linear":
        return linear_decay(total_steps)
    if schedule == "warmup_constant":
        return lambda step: min(1.0, (step + 1) / warmup_steps)
    return lambda step: 1.0


def _check_finite(means: dict[str, float], epoch: int) -> None:
    if not math.isfinite(means["loss"]):
        raise BenchError(
            f"training loss became {means['loss']} in epoch {epoch}",
            "lower the learning rate (--lr) or check the input images for NaN/inf",
        )


@dataclass(frozen=True)
class FastPath:
    """Choices of the training step that change its speed, not what it computes; given to
    ``TrainStep`` (and through ``fit``) by whoever decides them.

    ``compile`` wraps the objective's loss (forward and, through AOTAutograd, backward) in
    ``torch.compile``. It is off by default: `bench perf --compile` measures it beside eager, and
    it should only be switched on where that measurement shows it faster.
    """

    compile: bool = False


EAGER = FastPath()
CUDA_EVAL_BATCH = 1024  # evaluation batches on CUDA start here (no gradients: far larger than training)


def _fresh_groups(parameters: Iterable[Any]) -> list[Any]:
    """The optimiser's parameter groups as new dicts: torch writes its defaults into the dicts it
    is given, so two optimisers over one objective must not share them."""
    return [dict(group) if isinstance(group, dict) else group for group in parameters]


class TrainStep:
    """One optimiser step of the shared loop, the unit ``fit`` repeats and `bench perf` times.

    For a batch of indices into ``train``: gather the uint8 images (resident on the device when
    they fit, see bench/train/device_data.py) and labels, preprocess and augment them on the device,
    compute the objective's loss under bf16 autocast (CUDA), backward, AdamW (fused on CUDA),
    ``after_step``, then a step of ``cfg.schedule``. None of this waits for the GPU (an
    objective's own loss may, e.g. by copying labels to the host). ``fast`` says whether the loss
    is compiled.

    In a world of several ranks (bench/train/distributed.py) the batch is this rank's shard and the
    loss goes through DistributedDataParallel, which averages the gradients over the ranks; in a
    world of one it is called as it is.
    """

    def __init__(
        self,
        objective: Objective,
        train: GalaxyData,
        cfg: FinetuneConfig,
        prep: Preprocessing,
        device: torch.device,
        total_steps: int,
        warmup_steps: int,
        generator: torch.Generator,
        fast: FastPath = EAGER,
    ) -> None:
        self.objective, self.cfg, self.prep, self.device, self.generator = objective, cfg, prep, device, generator
        self.images = device_reader(train, device)
        self.labels = torch.as_tensor(train.labels, dtype=torch.long)
        self.loss = torch.compile(objective.loss) if fast.compile else objective.loss
        if world().size > 1:
            self.loss = data_parallel(objective.module, self.loss, device)
        self.optimizer = torch.optim.AdamW(
            _fresh_groups(objective.parameters), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=device.type == "cuda"
        )
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_factor(cfg.schedule, total_steps, warmup_steps)
        )

    def __call__(self, indices: np.ndarray) -> LossTerms:
        images = self.prep(self.images.read(indices), self.device, augment=self.cfg.augment, generator=self.generator)
        labels = to_device(self.labels[indices], self.device)
        with autocast(self.device):
            terms = self.loss(images, labels)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        self.optimizer.step()
        if self.objective.after_step is not None:
            self.objective.after_step()
        self.schedule.step()
        return terms


@dataclass(frozen=True)
class FitCall:
    """One call of ``fit`` that a method's fine-tune makes: what it trains, on which images, with
    which settings and preprocessing (see TrainsObjectives)."""

    objective: Objective
    train: GalaxyData
    cfg: FinetuneConfig
    prep: Preprocessing
    device: torch.device
    description: str = "fine-tune"

    def run(self) -> FitReport:
        """Train it: ``fit`` with these arguments."""
        return fit(self.objective, self.train, self.cfg, self.prep, self.device, self.description)


@runtime_checkable
class TrainsObjectives(Protocol):
    """A method whose ``finetune`` is the calls of the shared loop that ``objectives`` gives."""

    def objectives(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> Iterable[FitCall]:
        """The calls of ``fit`` that fine-tuning the built model on ``train`` makes, in order (none
        when it does not train through the loop, e.g. a linear probe on cached features).

        Each is made when the one before it has been taken, and may start from the model as the
        earlier ones left it (GalaxAlign's stage 2 copies the image encoder into its symbol
        encoder), so train each before taking the next. `bench perf` takes them all untrained:
        speed does not depend on the weights' values.
        """
        ...


def fit(
    objective: Objective,
    train: GalaxyData,
    cfg: FinetuneConfig,
    prep: Preprocessing,
    device: torch.device,
    description: str = "fine-tune",
    fast: FastPath = EAGER,
) -> FitReport:
    """Train ``objective`` on ``train`` and restore the weights of the best validation epoch; ``fast``
    is given to every ``TrainStep``.

    In a world of several ranks every rank draws the same global batches (one seed) and trains on its
    shard of each, trimmed to a multiple of the world size (a trailing batch smaller than the world is
    skipped); augmentation draws from a generator of each rank's own. The logged loss terms are the
    means over all ranks, and rank 0 alone scores the validation set: every rank gets its score, so
    all take the same early-stopping decision. ``train_images`` counts the images of all ranks.
    """
    per_epoch = steps_per_epoch(len(train), cfg)
    total_steps = per_epoch * cfg.epochs
    warmup_steps = cfg.warmup_steps or max(1, round(cfg.warmup_epochs * per_epoch))
    generator = torch.Generator().manual_seed(cfg.seed)
    current = world()
    step = TrainStep(objective, train, cfg, prep, device, total_steps, warmup_steps,
                     augmentation_generator(generator, cfg.seed, current), fast)
    stopper = EarlyStopping(cfg.patience)
    history: list[dict[str, float]] = []
    train_images, train_seconds, stop = 0, 0.0, False

    with progress_bar() as bar:
        task = bar.add_task(description, total=total_steps, status="")
        for epoch in range(1, cfg.epochs + 1):
            objective.module.train()
            sums: dict[str, torch.Tensor] = {}
            steps = 0
            started = time.perf_counter()
            for batch in epoch_batches(len(train), cfg.batch_size, per_epoch, generator):
                indices = shard(batch, current)
                if not len(indices):
                    continue
                terms = step(indices)
                for name, value in terms.items():  # summed on the device: no sync per step
                    sums[name] = sums.get(name, 0.0) + value.detach().float()
                steps += 1
                train_images += len(indices) * current.size
                bar.update(task, advance=1)
            synchronize(device)
            train_seconds += time.perf_counter() - started
            means = {name: float(total) / max(1, steps) for name, total in mean_across(sums).items()}
            _check_finite(means, epoch)
            record = {"epoch": float(epoch), "lr": float(step.schedule.get_last_lr()[0]), **means}
            bar.update(task, status=f"epoch {epoch} loss {means['loss']:.3f}")
            if objective.score is not None:
                objective.module.eval()
                record["val_score"] = score = from_rank0(objective.score)
                stop = stopper.update(score, epoch, objective.module)
                bar.update(task, status=f"epoch {epoch} val {score:.3f} (best {stopper.best_score:.3f})")
            history.append(record)
            if stop:
                break

    stopper.restore(objective.module)
    objective.module.eval()
    return stopper.report(history, train_images, train_seconds)


def augmentation_generator(order: torch.Generator, seed: int, current: World) -> torch.Generator:
    """What augmentation draws from: the batch order's generator in a world of one (as ever), else a
    generator of this rank's own, so that ranks do not augment their shards alike."""
    if current.size == 1:
        return order
    return torch.Generator().manual_seed(seed * 1_000_003 + current.rank + 1)


def synchronize(device: torch.device) -> None:
    """Wait for ``device``'s queued work (a no-op on the CPU), before reading a clock."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def eval_batch_size(device: torch.device, requested: int) -> int:
    """The first evaluation batch size tried: ``requested``, raised to ``CUDA_EVAL_BATCH`` on CUDA."""
    return max(requested, CUDA_EVAL_BATCH) if device.type == "cuda" else requested


@torch.inference_mode()
def batched_outputs(
    forward: Callable[[torch.Tensor], torch.Tensor],
    data: GalaxyData,
    prep: Preprocessing,
    device: torch.device,
    batch_size: int,
    keep_on_device: bool = False,
) -> torch.Tensor:
    """``forward`` over every image of ``data`` in order, as one float32 tensor on the CPU (or left
    on ``device`` with ``keep_on_device``, e.g. for metrics computed there).

    Batches are as large as memory allows: on CUDA they start at ``eval_batch_size`` and halve
    whenever one runs out of memory.
    """
    images = device_reader(data, device)
    size = eval_batch_size(device, batch_size)
    outputs: list[torch.Tensor] = []
    start = 0
    while start < len(data):
        indices = np.arange(start, min(start + size, len(data)))
        try:
            with autocast(device):
                output = forward(prep(images.read(indices), device)).float()
        except torch.OutOfMemoryError:
            if size == 1:
                raise
            size //= 2
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        outputs.append(output if keep_on_device else output.cpu())
        start += len(indices)
    return torch.cat(outputs) if outputs else torch.empty(0)
