"""Linear probing: a frozen backbone's features computed once, then only the head is trained.

The frozen protocol (``--adapt linear``, "frozen" in reports) trains the head as Lastufka et al.
trained their frozen-backbone classifiers, whose settings the GalaxAlign paper says its baselines
follow. Source: github.com/elastufka/fm4astro, ``finetune.py`` (Hugging Face ``Trainer`` with
``--freeze_backbone``: AdamW at lr 5e-5, the Trainer's defaults of weight decay 0 and a linear decay
without warm-up; the best-model reload is commented out, so the last epoch is kept) and
``sbatch_scripts/bao_finetune_gmnist.sh`` (``--epochs 100 --ims_per_batch 16``). Full-size models
take these numbers; the demo's tiny random-init models keep their profile's lr, epochs and batch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.api.data import GalaxyData
from bench.api.method import FinetuneConfig, FitReport
from bench.api.profiles import Profile
from bench.eval import metrics
from bench.io.progress import progress_bar
from bench.train.loop import EarlyStopping, lr_factor

LASTUFKA_LR = 5e-5  # fm4astro finetune.py --lr default
LASTUFKA_EPOCHS = 100  # bao_finetune_gmnist.sh --epochs
LASTUFKA_BATCH = 16  # bao_finetune_gmnist.sh --ims_per_batch


def frozen_config(profile: Profile, base: FinetuneConfig) -> FinetuneConfig:
    """``base`` (a method's fine-tuning defaults) turned into the frozen protocol: the head alone, on
    un-augmented cached features, with Lastufka et al.'s optimiser, schedule and stopping."""
    frozen = replace(
        base, adapt="linear", weight_decay=0.0, schedule="linear", patience=None, augment=False,
        layer_decay=None, head_dropout=0.0, label_smoothing=0.0,
    )
    if profile.model_scale == "tiny":
        return frozen
    return replace(frozen, lr=LASTUFKA_LR, epochs=LASTUFKA_EPOCHS, batch_size=LASTUFKA_BATCH)


def fit_linear_probe(
    head: nn.Linear,
    features: Callable[[GalaxyData], torch.Tensor],
    train: GalaxyData,
    val: GalaxyData | None,
    cfg: FinetuneConfig,
    device: torch.device,
    description: str = "linear probe",
) -> FitReport:
    """Train ``head`` on cached, un-augmented features under ``cfg.schedule``; keep the epoch with the best
    val macro-F1 (the last epoch when ``cfg.patience`` is None)."""
    train_x = features(train).to(device)
    train_y = torch.as_tensor(train.labels, dtype=torch.long, device=device)
    val_x = features(val).to(device) if val is not None else None
    optimizer = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_x) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    warmup_steps = max(1, round(cfg.warmup_epochs * steps_per_epoch))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg.schedule, total_steps, warmup_steps))
    generator = torch.Generator().manual_seed(cfg.seed)
    stopper = EarlyStopping(cfg.patience)
    history: list[dict[str, float]] = []
    started, stop = time.perf_counter(), False
    with progress_bar() as bar:
        task = bar.add_task(description, total=cfg.epochs, status="")
        for epoch in range(1, cfg.epochs + 1):
            head.train()
            order = torch.randperm(len(train_x), generator=generator).to(device)
            losses = []
            for batch in order.split(cfg.batch_size):
                loss = F.cross_entropy(head(train_x[batch]), train_y[batch], label_smoothing=cfg.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                losses.append(float(loss.detach()))
            record = {"epoch": float(epoch), "lr": float(schedule.get_last_lr()[0]), "loss": float(np.mean(losses))}
            if val is not None and val_x is not None:
                head.eval()
                with torch.no_grad():
                    score = metrics.macro_f1(val.labels, head(val_x).argmax(1).cpu(), val.num_classes)
                record["val_score"] = score
                stop = stopper.update(score, epoch, head)
            history.append(record)
            bar.update(task, advance=1, status=f"epoch {epoch} loss {record['loss']:.3f}")
            if stop:
                break
    stopper.restore(head)
    head.eval()
    return stopper.report(history, len(history) * len(train_x), time.perf_counter() - started)
