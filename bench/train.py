"""The one fine-tuning loop every method shares: AdamW, warm-up + cosine, early stopping."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.data.base import GalaxyData
from bench.errors import BenchError
from bench.method import FinetuneConfig, FitReport
from bench.preprocess import Preprocessing
from bench.progress import progress_bar

LossTerms = dict[str, torch.Tensor]


@dataclass
class Objective:
    """What to train and how to judge it.

    ``loss`` maps a prepared image batch and its labels to named loss terms whose ``"loss"``
    entry is optimised; ``score`` returns the validation score (higher is better) used for
    early stopping, or is None to train for the full number of epochs. ``after_step``, when
    given, runs after every optimiser step (e.g. to clamp a learned temperature as CLIP does).
    """

    module: nn.Module
    parameters: Iterable[Any]
    loss: Callable[[torch.Tensor, torch.Tensor], LossTerms]
    score: Callable[[], float] | None
    after_step: Callable[[], None] | None = None


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


class EarlyStopping:
    """Tracks the best validation score, keeps a CPU copy of the module's state at that epoch,
    and says when ``patience`` epochs have passed without a better score."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_score = -math.inf
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stale_epochs = 0

    def update(self, score: float, epoch: int, module: nn.Module) -> bool:
        """Record ``score`` for ``epoch``; True when training should stop."""
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
        scored = self.best_state is not None
        return FitReport(
            epochs_run=len(history),
            best_epoch=self.best_epoch if scored else len(history),
            best_val_score=self.best_score if scored else None,
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


def _check_finite(means: dict[str, float], epoch: int) -> None:
    if not math.isfinite(means["loss"]):
        raise BenchError(
            f"training loss became {means['loss']} in epoch {epoch}",
            "lower the learning rate (--lr) or check the input images for NaN/inf",
        )


def fit(
    objective: Objective,
    train: GalaxyData,
    cfg: FinetuneConfig,
    prep: Preprocessing,
    device: torch.device,
    description: str = "fine-tune",
) -> FitReport:
    """Train ``objective`` on ``train`` and restore the weights of the best validation epoch."""
    steps_per_epoch = max(math.ceil(len(train) / cfg.batch_size), math.ceil(cfg.min_steps / cfg.epochs), 1)
    total_steps = steps_per_epoch * cfg.epochs
    optimizer = torch.optim.AdamW(
        objective.parameters, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=device.type == "cuda"
    )
    warmup_steps = max(1, round(cfg.warmup_epochs * steps_per_epoch))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total_steps, warmup_steps))
    generator = torch.Generator().manual_seed(cfg.seed)
    labels = torch.as_tensor(train.labels, dtype=torch.long)
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
            for indices in epoch_batches(len(train), cfg.batch_size, steps_per_epoch, generator):
                images = prep(train.read(indices), device, augment=cfg.augment, generator=generator)
                with autocast(device):
                    terms = objective.loss(images, labels[indices].to(device))
                optimizer.zero_grad(set_to_none=True)
                terms["loss"].backward()
                optimizer.step()
                if objective.after_step is not None:
                    objective.after_step()
                schedule.step()
                for name, value in terms.items():  # summed on the device: no sync per step
                    sums[name] = sums.get(name, 0.0) + value.detach().float()
                steps += 1
                train_images += len(indices)
                bar.update(task, advance=1)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            train_seconds += time.perf_counter() - started
            means = {name: float(total) / max(1, steps) for name, total in sums.items()}
            _check_finite(means, epoch)
            record = {"epoch": float(epoch), "lr": float(schedule.get_last_lr()[0]), **means}
            bar.update(task, status=f"epoch {epoch} loss {means['loss']:.3f}")
            if objective.score is not None:
                objective.module.eval()
                record["val_score"] = score = objective.score()
                stop = stopper.update(score, epoch, objective.module)
                bar.update(task, status=f"epoch {epoch} val {score:.3f} (best {stopper.best_score:.3f})")
            history.append(record)
            if stop:
                break

    stopper.restore(objective.module)
    objective.module.eval()
    return stopper.report(history, train_images, train_seconds)


@torch.inference_mode()
def batched_outputs(
    forward: Callable[[torch.Tensor], torch.Tensor],
    data: GalaxyData,
    prep: Preprocessing,
    device: torch.device,
    batch_size: int,
) -> torch.Tensor:
    """``forward`` over every image of ``data`` in order, as one float32 tensor on the CPU."""
    outputs = []
    for indices in batch_indices(np.arange(len(data)), batch_size):
        with autocast(device):
            outputs.append(forward(prep(data.read(indices), device)).float().cpu())
    return torch.cat(outputs)
