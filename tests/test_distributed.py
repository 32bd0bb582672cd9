"""One cell on several ranks (`bench run --gpus-per-cell N`), on the CPU with gloo: the same objective as
one process on the global batch, one record per cell, a failed rank failing its cell in one line."""

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from bench.api import registry
from bench.api.data import ArraySource, GalaxyData
from bench.api.errors import BenchError
from bench.api.method import FinetuneConfig
from bench.api.spec import RunSpec
from bench.run.ranks import check_splittable
from bench.train.distributed import World, data_parallel, launch, rank_devices, shard, world
from bench.train.loop import Objective, fit
from bench.train.preprocess import Preprocessing
from methods.clip.loss import INIT_LOGIT_SCALE
from methods.galaxalign.loss import LOSSES

CPU2 = (torch.device("cpu"),) * 2
N = 8  # the global batch


def _on_ranks(fn: Any, *args: Any, folder: Path) -> list[Any]:
    """``fn(*args)`` on 2 gloo ranks: every rank's result, in rank order."""
    return launch(_gathered, (fn, args), CPU2, folder)  # type: ignore[no-any-return]


def _gathered(rank: int, device: torch.device, fn: Any, args: tuple[Any, ...]) -> list[Any]:
    results: list[Any] = [None] * world().size
    dist.all_gather_object(results, fn(*args))
    return results


# --- helpers without processes ---------------------------------------------------------------------------


def test_a_shard_is_this_ranks_slice_of_the_batch_trimmed_to_a_multiple_of_the_world() -> None:
    batch = np.arange(7) * 10
    assert [shard(batch, World(r, 2)).tolist() for r in range(2)] == [[0, 10, 20], [30, 40, 50]]
    assert shard(batch, World()) is batch


def test_rank_devices_come_from_the_first_device_and_a_count() -> None:
    assert rank_devices(torch.device("cpu"), 3) == (torch.device("cpu"),) * 3
    with pytest.raises(BenchError, match="lower --gpus-per-cell"):
        rank_devices(torch.device("cuda", torch.cuda.device_count()), 1)
    with pytest.raises(BenchError, match="not a positive number"):
        rank_devices(torch.device("cpu"), 0)


def test_only_cells_trained_through_the_shared_loop_can_be_split(monkeypatch: pytest.MonkeyPatch) -> None:
    def create(name: str) -> SimpleNamespace:  # a method with the TrainsObjectives capability, or one without
        return SimpleNamespace(name=name, objectives=list) if name == "loop-trained" else SimpleNamespace(name=name)

    monkeypatch.setattr(registry, "create_method", create)
    monkeypatch.setattr(registry, "methods_with", lambda capability: ["loop-trained"])
    loop_trained, own_trainer = (RunSpec(method=name, dataset="demo") for name in ("loop-trained", "own-trainer"))
    check_splittable([loop_trained])
    with pytest.raises(BenchError, match="--adapt linear cannot train on several ranks"):
        check_splittable([RunSpec(method="loop-trained", dataset="demo", adapt="linear")])
    with pytest.raises(BenchError, match=r"own-trainer cannot train on several ranks.*use a method that has it: loop"):
        check_splittable([loop_trained, own_trainer])


# --- the contrastive losses: gathered with gradient ------------------------------------------------------


class _Encoders(nn.Module):
    """Two linear encoders and a temperature, the same in every process."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(5, 4), nn.Linear(6, 4)
        self.logit_scale = nn.Parameter(torch.tensor(INIT_LOGIT_SCALE))


def _contrastive_gradients(name: str) -> tuple[float, dict[str, torch.Tensor]]:
    """The loss of this process's part of a fixed global batch, and the gradients (through DDP when
    there are several ranks)."""
    generator = torch.Generator().manual_seed(1)
    xa, xb = torch.randn(N, 5, generator=generator), torch.randn(N, 6, generator=generator)
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 2, 2])
    encoders = _Encoders()

    def loss(indices: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        a, b = F.normalize(encoders.a(xa[indices]), dim=1), F.normalize(encoders.b(xb[indices]), dim=1)
        return LOSSES[name](a, b, labels, encoders.logit_scale)

    indices = torch.as_tensor(shard(np.arange(N), world()))
    computed = data_parallel(encoders, loss, torch.device("cpu")) if world().size > 1 else loss
    value = computed(indices, labels[indices])
    value.backward()
    return value.item(), {n: p.grad.clone() for n, p in encoders.named_parameters() if p.grad is not None}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_two_ranks_on_halves_give_the_loss_and_gradients_of_one_process(name: str, tmp_path: Path) -> None:
    loss, gradients = _contrastive_gradients(name)
    for rank_loss, rank_gradients in _on_ranks(_contrastive_gradients, name, folder=tmp_path):
        assert rank_loss == pytest.approx(loss, abs=1e-6)
        assert rank_gradients.keys() == gradients.keys()
        for key, gradient in gradients.items():
            assert torch.allclose(rank_gradients[key], gradient, atol=1e-6), key
    assert any(g.abs().max() > 1e-3 for g in gradients.values())  # gradients that could differ


# --- the shared loop: shards, DDP, global logs, rank 0's score --------------------------------------------


def _fit_tiny_classifier() -> tuple[list[dict[str, float]], dict[str, torch.Tensor]]:
    """Two epochs of two steps of a model without BatchNorm on 16 images, validated by a score that
    differs per rank; the history and the weights."""
    rng = np.random.default_rng(0)
    data = GalaxyData(ArraySource(rng.integers(0, 256, (16, 8, 8, 3), dtype=np.uint8)), np.arange(16) % 3,
                      ("a", "b", "c"), "tiny")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 3))
    objective = Objective(
        model, model.parameters(), lambda images, labels: {"loss": F.cross_entropy(model(images), labels)},
        score=lambda: 0.5 + world().rank,
    )
    cfg = FinetuneConfig(epochs=2, batch_size=8, lr=1e-2, weight_decay=0.01, warmup_epochs=0.5, augment=False,
                         patience=None)
    report = fit(objective, data, cfg, Preprocessing(image_size=8), torch.device("cpu"))
    assert report.train_images == 32
    return report.history, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.slow
def test_the_shared_loop_on_two_ranks_trains_as_one_process_on_the_global_batch(tmp_path: Path) -> None:
    history, weights = _fit_tiny_classifier()
    for rank_history, rank_weights in _on_ranks(_fit_tiny_classifier, folder=tmp_path):
        assert [r["val_score"] for r in rank_history] == [0.5, 0.5]  # rank 0's, on every rank
        for mine, one in zip(rank_history, history, strict=True):
            assert mine["loss"] == pytest.approx(one["loss"], abs=1e-6)
        for key, value in weights.items():
            assert torch.allclose(rank_weights[key], value, atol=1e-6), key
    assert not torch.equal(weights["4.weight"], _untrained_head())  # it did train


def _untrained_head() -> torch.Tensor:
    torch.manual_seed(0)
    nn.Conv2d(3, 4, 3, stride=2)
    return nn.Linear(4, 3).weight.detach()


# --- `bench run --gpus-per-cell 2` ------------------------------------------------------------------------


def _run(run_bench: Any, results: Path, method: str, *extra: str) -> Any:
    return run_bench(["run", "--methods", method, "--datasets", "demo:4", "--device", "cpu", "--epochs", "1",
                      "--results", str(results), "--gpus-per-cell", "2", *extra])


def _records(results: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in results.rglob("*.json")]


@pytest.mark.slow
def test_a_cell_on_two_ranks_writes_one_record_that_says_so(tmp_path: Path, run_bench: Any,
                                                            plugin_methods: None) -> None:
    result = _run(run_bench, tmp_path, "tiny-convnet")
    assert result.exit_code == 0, result.output
    [record] = _records(tmp_path)
    assert record["status"] == "ok" and record["metrics"]["classify"]["accuracy"] >= 0
    assert record["environment"]["world_size"] == 2 and record["environment"]["rank_devices"] == ["cpu", "cpu"]
    assert [p.name for p in tmp_path.rglob("*.npz")] == [f"{record['run_id']}.npz"]  # rank 0's test outputs
    assert not list(tmp_path.rglob(".ranks-*"))  # the outcome's file went with its folder
    again = _run(run_bench, tmp_path, "tiny-convnet")
    assert again.exit_code == 0 and "already done" in again.output and len(_records(tmp_path)) == 1


@pytest.mark.slow
@pytest.mark.parametrize(("method", "line"), [
    ("rank-one-fails", "rank 1: RuntimeError: rank 1 lost its device"),
    ("rank-one-killed", "rank 1: process 1 terminated with signal SIGKILL"),
])
def test_a_failed_rank_fails_its_cell_in_one_line(method: str, line: str, tmp_path: Path, run_bench: Any,
                                                  install_plugin: Any) -> None:
    install_plugin({"rank-one-fails": "plugins:RankOneFails", "rank-one-killed": "plugins:RankOneKilled"})
    started = time.perf_counter()
    result = _run(run_bench, tmp_path, method)
    assert result.exit_code == 1 and time.perf_counter() - started < 120
    [record] = _records(tmp_path)
    assert record["status"] == "failed" and record["error"] == line and record["environment"]["world_size"] == 2
    assert not list(tmp_path.rglob("*.npz")) and not list(tmp_path.rglob(".ranks-*"))


@pytest.mark.parametrize(("extra", "refusal"), [
    (["--adapt", "linear"], "--adapt linear cannot train on several ranks"),
    (["--adapt", "linear", "--executor", "local"], "--adapt linear cannot train on several ranks"),
])
def test_a_cell_not_trained_by_the_shared_loop_is_refused_in_one_line(extra: list[str], refusal: str,
                                                                      tmp_path: Path, run_bench: Any) -> None:
    result = _run(run_bench, tmp_path, "vit16", *extra)
    assert result.exit_code == 2
    assert refusal in result.stderr and "Fix:" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not _records(tmp_path)
