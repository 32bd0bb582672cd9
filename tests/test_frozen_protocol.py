"""The frozen protocol (--adapt linear) as Lastufka et al. trained: its settings, schedule and stopping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench.api import registry
from bench.api.data import ArraySource, GalaxyData
from bench.api.method import FinetuneConfig
from bench.api.profiles import PROFILES
from bench.api.spec import RunSpec
from bench.run.runner import finetune_config
from bench.train.linear_probe import fit_linear_probe, frozen_config
from bench.train.loop import EarlyStopping, linear_decay, lr_factor, warmup_cosine

BASE = FinetuneConfig(epochs=8, batch_size=64, lr=1e-3, weight_decay=0.05, patience=3, layer_decay=0.75,
                      head_dropout=0.5)


def test_paper_profile_takes_lastufkas_numbers_and_the_demo_keeps_its_budget() -> None:
    paper = frozen_config(PROFILES["paper"], BASE)
    assert (paper.lr, paper.weight_decay, paper.schedule, paper.epochs, paper.batch_size) == (
        5e-5, 0.0, "linear", 100, 16)
    assert paper.patience is None and not paper.augment and paper.layer_decay is None and paper.head_dropout == 0
    demo = frozen_config(PROFILES["demo"], BASE)
    assert (demo.lr, demo.epochs, demo.batch_size, demo.schedule, demo.patience) == (1e-3, 8, 64, "linear", None)


def test_the_runner_gives_linear_runs_the_frozen_protocol() -> None:
    method = registry.create_method("vit16")
    cfg = finetune_config(method, RunSpec("vit16", "demo", adapt="linear", profile="paper"), 1000)
    assert (cfg.adapt, cfg.schedule, cfg.lr, cfg.batch_size, cfg.patience) == ("linear", "linear", 5e-5, 16, None)
    full = finetune_config(method, RunSpec("vit16", "demo", adapt="full", profile="paper"), 1000)
    assert (full.schedule, full.patience) == ("warmup_cosine", PROFILES["paper"].patience)


def test_schedules() -> None:
    linear = linear_decay(10)
    assert [linear(step) for step in (0, 5, 10, 12)] == [1.0, 0.5, 0.0, 0.0]  # HF Trainer: (total - step) / total
    assert lr_factor("constant", 10, 2)(7) == 1.0
    assert lr_factor("warmup_cosine", 10, 2)(0) == warmup_cosine(10, 2)(0) == 0.5


def test_without_patience_training_never_stops_early_and_keeps_the_last_epoch() -> None:
    stopper, module = EarlyStopping(None), nn.Linear(2, 2)
    assert not any(stopper.update(score, epoch, module) for epoch, score in enumerate([0.9, 0.1, 0.1, 0.1], 1))
    report = stopper.report([{}] * 4, 40, 1.0)
    assert (report.best_epoch, report.best_val_score) == (4, 0.1)


def data(n: int, seed: int) -> GalaxyData:
    labels = np.arange(n) % 2
    return GalaxyData(ArraySource(np.zeros((n, 4, 4, 3), np.uint8)), labels, ("a", "b"), f"set{seed}")


@pytest.mark.parametrize("patience", [None, 1])
def test_the_probe_follows_the_schedule_and_the_stopping_rule(patience: int | None) -> None:
    generator = torch.Generator().manual_seed(0)
    features = {name: torch.randn(20, 3, generator=generator) for name in ("set0", "set1")}
    cfg = FinetuneConfig(epochs=5, batch_size=10, lr=0.1, weight_decay=0.0, schedule="linear", patience=patience)
    report = fit_linear_probe(nn.Linear(3, 2), lambda d: features[d.name], data(20, 0), data(20, 1), cfg,
                              torch.device("cpu"))
    lrs = [record["lr"] for record in report.history]
    steps = 2  # per epoch
    assert lrs == pytest.approx([0.1 * (1 - steps * e / (steps * 5)) for e in range(1, len(lrs) + 1)])
    if patience is None:
        assert report.epochs_run == 5 and report.best_epoch == 5
