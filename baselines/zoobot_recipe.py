"""Zoobot's own fine-tuning recipe (``--adapt zoobot``): zoobot 2.9.0's ``FinetuneableZoobotClassifier``
trained by the Lightning trainer of its ``get_trainer``, on our data and preprocessing.

This module imports zoobot and Lightning (10-15 s), so baselines/zoobot.py imports it only when a
zoobot-adapt run trains. What zoobot decides (zoobot/pytorch/training/finetune.py; the numbers are in
baselines/protocol.py, and ``zoobot_recipe_config`` there passes them in):

- ``FinetuneableZoobotAbstract.configure_optimizers``: timm's ``create_optimizer_v2(encoder, "adamw",
  lr=1e-4, weight_decay=0.05, layer_decay=0.75)`` (no weight decay on biases and norms; timm's layer
  groups from the top down at lr, lr * 0.75, lr * 0.75**2 ...), then the head as one more group at lr with
  the optimiser's default weight decay, which timm sets to 0. ``scheduler_kwargs=None``: no scheduler, the
  layer scales applied to the rates once, so every rate is constant.
- ``LinearHead``: dropout 0.5 on the pooled features, then a linear layer, trained on cross-entropy.
- ``get_trainer``: at most 100 epochs; ``EarlyStopping`` on ``finetuning/val_loss`` (the mean of the
  validation batches' mean cross-entropy, lower is better) with patience 10; ``ModelCheckpoint`` keeps the
  epoch of the lowest validation loss, which we load back after ``fit`` as zoobot's examples do.
- galaxy-datasets' ``CatalogDataModule`` (0.0.25), zoobot's data module: batches of 256.

What we decide:

- The encoder is the method's own (timm ``local-dir:`` on the folder bench/train/weights.py resolved,
  random init only when the run says so, the demo's tiny encoders alike), handed over as ``encoder=``:
  zoobot never looks at the Hub.
- The data are our GalaxyData splits in torch DataLoaders whose batches our Preprocessing prepares on the
  run's device: resized, normalised with the weights' own mean/std (galaxy-datasets leaves images in
  [0, 1]), and for training augmented by our rotations by any angle and flips (``cfg.augment``) instead
  of galaxy-datasets' affine, shear and erasing transforms, as every other run of the benchmark is. An
  epoch is one shuffled pass (or ``cfg.min_epoch_images``), as in bench/train/loop.py, which drops only a
  trailing one-image batch where galaxy-datasets drops every incomplete one: a training fraction smaller
  than a batch would otherwise not train at all.
- Precision: bf16 autocast on CUDA (``bf16-mixed``), as bench/train/loop.py trains; fp32 elsewhere
  (Lightning's default, which ``get_trainer`` keeps).
- Lightning's checkpoints and logs go to a temporary folder, deleted after training; its progress bar and
  banners are off, and our own progress bar (silent under BENCH_NO_PROGRESS) shows the epochs.
- After training the head's linear layer is copied into the method's Classifier (its dropout is idle in
  evaluation), so embed and predict run the same code as every other baseline.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.warnings import PossibleUserWarning
from rich.progress import Progress, TaskID
from torch.utils.data import DataLoader, Dataset
from zoobot.pytorch.training.finetune import FinetuneableZoobotClassifier, get_trainer

from bench.api.data import GalaxyData
from bench.api.errors import BenchError
from bench.api.method import FinetuneConfig, FitReport
from bench.eval import metrics
from bench.io.progress import progress_bar
from bench.train.classifier import Classifier
from bench.train.device_data import device_reader
from bench.train.loop import batch_indices, epoch_batches, steps_per_epoch, synchronize
from bench.train.preprocess import Preprocessing, to_device

MONITOR = "finetuning/val_loss"  # what zoobot's EarlyStopping and ModelCheckpoint watch, lower is better
MONITOR_MEANING = f"{MONITOR}: mean validation cross-entropy, lower is better"


@dataclass
class ZoobotFitReport(FitReport):
    """A FitReport whose ``best_val_score`` is zoobot's monitored validation loss; ``monitor`` says so."""

    monitor: str = MONITOR_MEANING


class PreparedBatches(Dataset[dict[str, torch.Tensor]]):
    """Batches of ``data`` keyed by index arrays, in zoobot's batch format ``{"image", "label"}``: images
    prepared (and augmented, with ``generator``) on ``device``, so Lightning's transfer has nothing to move."""

    def __init__(
        self, data: GalaxyData, prep: Preprocessing, device: torch.device, generator: torch.Generator | None
    ) -> None:
        self.images, self.prep, self.device, self.generator = device_reader(data, device), prep, device, generator
        self.labels = torch.as_tensor(data.labels, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, indices: np.ndarray) -> dict[str, torch.Tensor]:
        augment = self.generator is not None
        images = self.prep(self.images.read(indices), self.device, augment=augment, generator=self.generator)
        return {"image": images, "label": to_device(self.labels[indices], self.device)}


class EpochOrder:
    """The sampler of the training loader: each epoch's index batches from bench/train/loop.py's
    ``epoch_batches`` (a shuffled pass, or ``steps`` batches from several)."""

    def __init__(self, num_images: int, batch_size: int, steps: int, generator: torch.Generator) -> None:
        self.num_images, self.batch_size, self.steps, self.generator = num_images, batch_size, steps, generator
        one_pass = steps <= math.ceil(num_images / batch_size)
        whole = batch_indices(np.arange(num_images), batch_size, drop_single_last=True)
        self.length = sum(1 for _ in whole) if one_pass else steps

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[np.ndarray]:
        return epoch_batches(self.num_images, self.batch_size, self.steps, self.generator)


def loaders(
    train: GalaxyData, val: GalaxyData, cfg: FinetuneConfig, prep: Preprocessing, device: torch.device
) -> tuple[DataLoader[Any], DataLoader[Any]]:
    """(training, validation) DataLoaders of ready batches; ``batch_size=None``: the sampler yields batches."""
    generator = torch.Generator().manual_seed(cfg.seed)
    order = EpochOrder(len(train), cfg.batch_size, steps_per_epoch(len(train), cfg), generator)
    train_batches = PreparedBatches(train, prep, device, generator if cfg.augment else None)
    val_order = list(batch_indices(np.arange(len(val)), cfg.batch_size))
    val_batches = PreparedBatches(val, prep, device, None)
    return (
        DataLoader(train_batches, sampler=order, batch_size=None),
        DataLoader(val_batches, sampler=val_order, batch_size=None),
    )


class EpochLog(L.Callback):
    """Per epoch: training loss, zoobot's validation loss and accuracy, our validation macro-F1 and the
    head's learning rate into ``history``; the images trained on and the seconds spent training (not
    validating); our progress bar advanced per step."""

    def __init__(self, bar: Progress, task: TaskID, num_classes: int, device: torch.device) -> None:
        self.bar, self.task, self.num_classes, self.device = bar, task, num_classes, device
        self.history: list[dict[str, float]] = []
        self.train_images, self.train_seconds, self.started = 0, 0.0, 0.0
        self.loss_sum, self.steps = torch.zeros((), device=device), 0
        self.predicted: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.loss_sum, self.steps, self.started = torch.zeros((), device=self.device), 0, time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.loss_sum += outputs["loss"].detach().float()  # summed on the device: no sync per step
        self.steps += 1
        self.train_images += len(batch["label"])
        self.bar.update(self.task, advance=1)

    def on_validation_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.predicted, self.labels = [], []
        if not trainer.sanity_checking:
            synchronize(self.device)
            self.train_seconds += time.perf_counter() - self.started

    def on_validation_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self.predicted.append(outputs["class_predictions"].cpu())
        self.labels.append(batch["label"].cpu())

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        logged = trainer.callback_metrics
        epoch = len(self.history) + 1
        labels, predicted = torch.cat(self.labels).numpy(), torch.cat(self.predicted)
        record = {
            "epoch": float(epoch),
            "lr": float(trainer.optimizers[0].param_groups[-1]["lr"]),  # the head's group: the unscaled rate
            "loss": float(self.loss_sum) / max(1, self.steps),
            "val_loss": float(logged[MONITOR]),
            "val_acc": float(logged["finetuning/val_acc"]),
            "val_macro_f1": metrics.macro_f1(labels, predicted, self.num_classes),
        }
        self.history.append(record)
        best = min(entry["val_loss"] for entry in self.history)
        self.bar.update(self.task, status=f"epoch {epoch} val loss {record['val_loss']:.3f} (best {best:.3f})")


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Lightning's banners (devices, tips, checkpoint saves) off the console, and its warnings that the
    loaders have no worker processes or few batches per logging interval (our batches are prepared on the
    device, and zoobot logs per epoch), and the deprecation of torch's ``LeafSpec``, which Lightning uses."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*(does not have many workers|smaller than the logging interval)",
                                category=PossibleUserWarning)
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                                category=FutureWarning)
        for logger in loggers:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def accelerator(device: torch.device) -> tuple[str, int | list[int]]:
    """Lightning's (accelerator, devices) for ``device``."""
    if device.type == "cuda":
        return "gpu", [device.index if device.index is not None else torch.cuda.current_device()]
    return device.type, 1


def zoobot_classifier(model: Classifier, num_classes: int, cfg: FinetuneConfig) -> FinetuneableZoobotClassifier:
    """zoobot's classifier around ``model``'s backbone, with ``cfg``'s optimiser settings."""
    if cfg.schedule != "constant":
        raise BenchError(
            f"zoobot's recipe trains at a constant rate (no scheduler), not schedule {cfg.schedule!r}",
            "drop the schedule setting for --adapt zoobot",
        )
    return FinetuneableZoobotClassifier(
        encoder=model.backbone,
        num_classes=num_classes,
        label_smoothing=cfg.label_smoothing,
        learning_rate=cfg.lr,
        weight_decay=cfg.weight_decay,
        layer_decay=cfg.layer_decay,
        head_dropout_prob=cfg.head_dropout,
        prog_bar=False,
        seed=cfg.seed,
    )


def finetune_with_zoobot(
    model: Classifier,
    train: GalaxyData,
    val: GalaxyData | None,
    cfg: FinetuneConfig,
    prep: Preprocessing,
    device: torch.device,
    description: str = "zoobot fine-tune",
) -> ZoobotFitReport:
    """Train ``model`` by zoobot's recipe on ``train``, early-stopped on ``val``'s loss; ``model`` ends
    with the backbone and head of zoobot's best checkpoint, in evaluation mode."""
    if val is None:
        raise BenchError("zoobot's recipe stops early on validation loss: it needs a validation split",
                         "give the run a dataset with a validation split")
    module = zoobot_classifier(model, train.num_classes, cfg)
    train_loader, val_loader = loaders(train, val, cfg, prep, device)
    kind, devices = accelerator(device)
    with tempfile.TemporaryDirectory(prefix="bench-zoobot-") as save_dir, quiet_lightning(), progress_bar() as bar:
        trainer = get_trainer(
            save_dir, max_epochs=cfg.epochs, patience=cfg.patience, accelerator=kind, devices=devices,
            logger=CSVLogger(save_dir), default_root_dir=save_dir, enable_progress_bar=False,
            enable_model_summary=False, precision="bf16-mixed" if device.type == "cuda" else "32-true",
        )
        log = EpochLog(bar, bar.add_task(description, total=len(train_loader) * cfg.epochs, status=""),
                       train.num_classes, device)
        trainer.callbacks.append(log)
        trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader)
        best = torch.load(Path(trainer.checkpoint_callback.best_model_path), map_location="cpu")
    module.load_state_dict(best["state_dict"])
    model.head.load_state_dict(module.head.linear.state_dict())
    model.eval()
    best_loss = log.history[best["epoch"]]["val_loss"]
    if not math.isfinite(best_loss):
        raise BenchError(f"zoobot's fine-tune reached no finite validation loss ({best_loss})",
                         "lower the learning rate (--lr) or check the input images for NaN/inf")
    return ZoobotFitReport(
        epochs_run=len(log.history),
        best_epoch=best["epoch"] + 1,  # Lightning counts epochs from 0
        best_val_score=best_loss,
        train_images=log.train_images,
        train_seconds=log.train_seconds,
        history=log.history,
    )
