"""``--adapt zoobot``: the Zoobot encoders trained by zoobot's own FinetuneableZoobotClassifier and trainer,
from a hub-layout folder that the real weights resolver finds, with zoobot's own defaults recorded."""

from __future__ import annotations

import ast
import importlib.util
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score
from timm.models import save_for_hf
from typer.testing import Result

from bench.api import registry
from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.api.method import BuildContext
from bench.api.profiles import PROFILES
from bench.api.spec import RunSpec
from bench.run.artifacts import load_artifacts
from bench.run.runner import finetune_config, seed_everything
from bench.train.loop import batched_outputs

RunBench = Callable[[list[str]], Result]
METHOD = "zoobot-convnext"
TINY_CONVNEXT = {"depths": (1, 1, 1, 1), "dims": (8, 16, 32, 64)}  # convnext_base's design, a few thousand weights
PAPER_RUN = ["run", "--methods", METHOD, "--datasets", "demo:10", "--profile", "paper", "--init", "pretrained",
             "--adapt", "zoobot", "--device", "cpu"]


def hub_folder(folder: Path) -> dict[str, torch.Tensor]:
    """A tiny ``convnext_base`` in the layout of mwalmsley's Zoobot repos (config.json naming the architecture,
    its model_args, pytorch_model.bin), written by timm's own export helper; returns the weights saved."""
    torch.manual_seed(1)
    model = timm.create_model("convnext_base", num_classes=0, **TINY_CONVNEXT)
    save_for_hf(model, str(folder))
    return {name: value.clone() for name, value in model.state_dict().items()}


def zoobot_defaults() -> dict[str, Any]:
    """The keyword defaults of zoobot 2.9.0's ``FinetuneableZoobotAbstract.__init__`` and ``get_trainer``
    and of galaxy-datasets' ``CatalogDataModule.__init__``, read from their installed source (not imported)."""

    def defaults(package: str, relative: str, owner: str | None, function: str) -> dict[str, Any]:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations
        tree = ast.parse((Path(next(iter(spec.submodule_search_locations))) / relative).read_text())
        scope = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == owner) if owner else tree
        [node] = [n for n in ast.walk(scope) if isinstance(n, ast.FunctionDef) and n.name == function]
        args = node.args.args[len(node.args.args) - len(node.args.defaults):]
        return {arg.arg: ast.literal_eval(default) for arg, default in zip(args, node.args.defaults, strict=True)}

    return {
        **defaults("zoobot", "pytorch/training/finetune.py", "FinetuneableZoobotAbstract", "__init__"),
        **defaults("zoobot", "pytorch/training/finetune.py", None, "get_trainer"),
        "data_batch_size": defaults("galaxy_datasets", "pytorch/galaxy_datamodule.py", "CatalogDataModule",
                                    "__init__")["batch_size"],
    }


def test_the_recorded_config_is_zoobots_own() -> None:
    zoobot = zoobot_defaults()
    method = registry.create_method(METHOD)
    paper = finetune_config(method, RunSpec(METHOD, "galaxy10_decals", profile="paper", adapt="zoobot"), 10_000)
    assert (paper.lr, paper.weight_decay, paper.layer_decay, paper.head_dropout) == (
        zoobot["learning_rate"], zoobot["weight_decay"], zoobot["layer_decay"], zoobot["head_dropout_prob"])
    assert zoobot["scheduler_kwargs"] is None and paper.schedule == "constant"
    assert (paper.epochs, paper.patience, paper.batch_size) == (
        zoobot["max_epochs"], zoobot["patience"], zoobot["data_batch_size"])
    assert (paper.adapt, paper.min_epoch_images, paper.label_smoothing) == ("zoobot", 0, 0.0)  # one pass per epoch
    demo = finetune_config(method, RunSpec(METHOD, "demo", adapt="zoobot", overrides=(("epochs", 2),)), 10_000)
    profile = PROFILES["demo"]
    assert (demo.epochs, demo.patience, demo.batch_size, demo.lr) == (2, profile.patience, profile.batch_size,
                                                                      zoobot["learning_rate"])


def test_adapt_linear_on_zoobot_keeps_the_bench_frozen_protocol() -> None:
    method = registry.create_method(METHOD)
    cfg = finetune_config(method, RunSpec(METHOD, "demo", adapt="linear"), 400)
    assert cfg.adapt == "linear" and cfg.schedule == "linear" and cfg.patience is None


@pytest.mark.slow
def test_methods_without_the_recipe_refuse_it_in_one_line() -> None:
    with pytest.raises(BenchError) as error:
        finetune_config(registry.create_method("resnet18"), RunSpec("resnet18", "demo", adapt="zoobot"), 100)
    message = str(error.value)
    assert "\n" not in message and "--adapt zoobot" in message
    assert "zoobot-convnext, zoobot-maxvit" in message


@pytest.mark.slow
def test_adapt_zoobot_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_bench: RunBench) -> None:
    """A tiny hub-layout encoder from BENCH_WEIGHTS_DIR, handed to zoobot unchanged, trained for 2 epochs by
    zoobot's trainer; the record holds zoobot's settings and fit, and the model that embeds and predicts is
    zoobot's best checkpoint (its validation loss, recomputed here, is the recorded best)."""
    import baselines.zoobot_recipe as recipe

    saved = hub_folder(tmp_path / "weights" / METHOD)
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    handed: dict[str, torch.Tensor] = {}
    trained: dict[str, Any] = {}
    zoobot_classifier, finetune = recipe.FinetuneableZoobotClassifier, recipe.finetune_with_zoobot

    def spy_classifier(**kwargs: Any) -> Any:
        handed.update({name: value.detach().clone() for name, value in kwargs["encoder"].state_dict().items()})
        return zoobot_classifier(**kwargs)

    def spy_finetune(*args: Any, **kwargs: Any) -> Any:
        trained.update(zip(("model", "train", "val", "cfg", "prep"), args, strict=False))
        return finetune(*args, **kwargs)

    monkeypatch.setattr(recipe, "FinetuneableZoobotClassifier", spy_classifier)
    monkeypatch.setattr(recipe, "finetune_with_zoobot", spy_finetune)
    results = tmp_path / "results"
    result = run_bench([*PAPER_RUN, "--epochs", "2", "--batch-size", "32", "--results", str(results)])
    assert result.exit_code == 0, result.output

    [path] = results.rglob("paper-default-zoobot-pretrained-f1-s0-*.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and record["spec"]["adapt"] == "zoobot"
    weights = record["weights"]
    assert (weights["source"], weights["path"]) == ("weights_dir", str(tmp_path / "weights" / METHOD))
    assert handed.keys() == saved.keys() and all(torch.equal(handed[name], saved[name]) for name in saved)
    model = trained["model"]
    assert any(not torch.equal(value.cpu(), saved[name]) for name, value in model.backbone.state_dict().items())

    config = record["config"]
    assert {key: config[key] for key in ("adapt", "epochs", "batch_size", "lr", "weight_decay", "layer_decay",
                                         "head_dropout", "schedule", "patience", "min_epoch_images")} == {
        "adapt": "zoobot", "epochs": 2, "batch_size": 32, "lr": 1e-4, "weight_decay": 0.05, "layer_decay": 0.75,
        "head_dropout": 0.5, "schedule": "constant", "patience": 10, "min_epoch_images": 0}

    fit, train, val = record["fit"], trained["train"], trained["val"]
    history = fit["history"]
    val_losses = [entry["val_loss"] for entry in history]
    assert fit["epochs_run"] == len(history) == 2 and [entry["epoch"] for entry in history] == [1.0, 2.0]
    assert fit["best_epoch"] == 1 + int(np.argmin(val_losses)) and fit["best_val_score"] == min(val_losses)
    assert "val_loss" in fit["monitor"] and fit["train_images"] == 2 * len(train) and fit["train_seconds"] > 0
    assert all(entry["lr"] == 1e-4 for entry in history)

    logits = batched_outputs(model, val, trained["prep"], torch.device("cpu"), batch_size=256)  # val is one batch
    labels = torch.as_tensor(val.labels)
    assert float(F.cross_entropy(logits, labels)) == pytest.approx(fit["best_val_score"], rel=1e-4)
    best = history[fit["best_epoch"] - 1]
    assert best["val_acc"] == pytest.approx(accuracy_score(val.labels, logits.argmax(1)), abs=1e-6)
    assert best["val_macro_f1"] == pytest.approx(
        f1_score(val.labels, logits.argmax(1), average="macro", labels=range(val.num_classes), zero_division=0))

    artifacts = load_artifacts(path.with_name(record["artifacts"]))
    assert artifacts.predicted is not None and artifacts.embeddings is not None
    classify = record["metrics"]["classify"]
    assert classify["accuracy"] == pytest.approx(accuracy_score(artifacts.labels, artifacts.predicted))
    assert classify["macro_f1"] == pytest.approx(f1_score(
        artifacts.labels, artifacts.predicted, average="macro", labels=range(val.num_classes), zero_division=0))
    assert np.allclose(np.linalg.norm(artifacts.embeddings.astype(np.float32), axis=1), 1.0, atol=1e-2)
    assert artifacts.embeddings.shape[1] == TINY_CONVNEXT["dims"][-1]
    assert 0.0 <= record["metrics"]["retrieve"]["map"] <= 1.0


@pytest.mark.slow
def test_the_best_validation_epoch_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """zoobot's validation loss, lowered by 10 in epoch 2 of 3 only, makes its best checkpoint epoch 2
    whatever the model learns: that epoch's model is the one left to predict, not the last one."""
    import baselines.zoobot_recipe as recipe

    zoobot_classifier = recipe.FinetuneableZoobotClassifier
    offsets = {1: -10.0}  # by Lightning's epoch, counted from 0

    def lowered_in_epoch_2(**kwargs: Any) -> Any:
        module = zoobot_classifier(**kwargs)
        loss = module.loss
        module.loss = lambda pred, y: loss(pred, y) + (0.0 if module.training else offsets.get(module.current_epoch, 0))
        return module

    monkeypatch.setattr(recipe, "FinetuneableZoobotClassifier", lowered_in_epoch_2)
    seed_everything(0)
    splits = registry.load_dataset("demo:6", DataOptions())
    train, val = splits.train, splits.val
    method = registry.create_method(METHOD)
    method.build(BuildContext(train.class_names, PROFILES["demo"], "random", torch.device("cpu")))
    cfg = replace(method.zoobot_config(PROFILES["demo"]), epochs=3, lr=1e-3)  # type: ignore[attr-defined]
    report = method.finetune(train, val, cfg)

    losses = [entry["val_loss"] for entry in report.history]
    assert (report.epochs_run, report.best_epoch, report.best_val_score) == (3, 2, losses[1])
    restored = float(F.cross_entropy(method.predict(val), torch.as_tensor(val.labels)))  # val is one batch
    assert restored == pytest.approx(losses[1] + 10.0, rel=1e-5) and restored != pytest.approx(losses[2], rel=1e-5)


def test_missing_weights_folder_is_one_line(tmp_path: Path, run_bench: RunBench) -> None:
    result = run_bench([*PAPER_RUN, "--weights", f"{METHOD}={tmp_path / 'nowhere'}", "--results", str(tmp_path)])
    assert result.exit_code == 2
    [line] = [line for line in result.output.splitlines() if "error:" in line]
    assert f"weights folder {tmp_path / 'nowhere'} does not exist" in line and f"--weights {METHOD}=PATH" in line


def test_corrupt_weights_folder_is_one_line(tmp_path: Path, run_bench: RunBench) -> None:
    folder = tmp_path / "weights" / METHOD
    hub_folder(folder)
    (folder / "pytorch_model.bin").write_bytes(b"not a checkpoint")
    result = run_bench([*PAPER_RUN, "--weights", f"{METHOD}={folder}", "--results", str(tmp_path / "results")])
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if line.startswith("failed")]
    assert f"{folder / 'pytorch_model.bin'} is not a torch or safetensors checkpoint" in line
    assert "Fix: point --weights" in line
