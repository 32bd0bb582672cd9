"""bench perf and the fast training path: FLOP counts, peaks, MFU, resident data, the shared step."""

from __future__ import annotations

import copy
import gc
import json
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from bench.api.data import ArraySource, GalaxyData
from bench.api.errors import BenchError
from bench.api.method import BuildContext, FinetuneConfig, FitReport
from bench.api.profiles import PROFILES
from bench.api.registry import create_method
from bench.api.weights import ResolvedWeights
from bench.perf.flops import count_flops, mfu
from bench.perf.measure import synthetic_data
from bench.perf.peaks import gpu_peak, measured_cpu_peak
from bench.perf.reference_loop import PilAugmented
from bench.perf.report import GPU_COMMAND, perf_markdown, write_perf
from bench.train import device_data
from bench.train import loop as train
from bench.train.loop import FastPath, FitCall, Objective, TrainsObjectives, TrainStep, batched_outputs, fit
from bench.train.preprocess import Preprocessing
from bench.train.weights import pretrained_copy

CPU = torch.device("cpu")

# --- FLOPs and MFU against hand counts -----------------------------------------------------------


def test_linear_flops_match_a_hand_count() -> None:
    layer, x = nn.Linear(5, 3), torch.randn(4, 5)
    assert count_flops(lambda: layer(x)).flops == 2 * 4 * 5 * 3  # one multiply and one add per weight use
    # backward of a leaf input that needs no gradient: only the weight gradient, one more matmul
    assert count_flops(lambda: layer(x).sum().backward()).flops == 2 * (2 * 4 * 5 * 3)
    x.requires_grad_(True)
    assert count_flops(lambda: layer(x).sum().backward()).flops == 3 * (2 * 4 * 5 * 3)


def test_conv_flops_match_a_hand_count() -> None:
    conv, x = nn.Conv2d(3, 4, kernel_size=3, padding=1), torch.randn(2, 3, 8, 8)
    forward = 2 * 2 * 4 * 8 * 8 * 3 * 3 * 3  # 2 x batch x out channels x out pixels x (in channels x k x k)
    assert count_flops(lambda: conv(x)).flops == forward
    assert count_flops(lambda: conv(x).sum().backward()).flops == 2 * forward


def test_cpu_attention_is_counted_and_seen_as_fused() -> None:
    b, h, t, d = 2, 3, 10, 8
    q, k, v = (torch.randn(b, h, t, d) for _ in range(3))
    counted = count_flops(lambda: F.scaled_dot_product_attention(q, k, v))
    assert counted.flops == 2 * (2 * b * h * t * t * d)  # scores q k^T, then scores @ v
    assert counted.fused_attention
    assert not count_flops(lambda: nn.Linear(4, 4)(torch.randn(2, 4))).fused_attention


def test_mfu_arithmetic() -> None:
    assert mfu(2e9, 150.0, 1e12) == pytest.approx(0.3)
    assert mfu(2e9, 150.0, None) is None


# --- device peaks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bf16_tflops"),
    [
        ("NVIDIA H100 80GB HBM3", 989.5),
        ("NVIDIA H100 PCIe", 756.5),
        ("NVIDIA H100 NVL", 835.5),
        ("NVIDIA H200", 989.5),
        ("NVIDIA A100-SXM4-80GB", 312),
        ("NVIDIA A100 80GB PCIe", 312),
        ("NVIDIA RTX A6000", 154.8),
        ("NVIDIA L4", 121),
        ("NVIDIA L40S", 362.05),
        ("NVIDIA A10", 125),
    ],
)
def test_gpu_peak_is_matched_by_device_name(name: str, bf16_tflops: float) -> None:
    peak = gpu_peak(name, "bf16")
    assert peak.flops_per_s == pytest.approx(bf16_tflops * 1e12)
    assert peak.source.startswith("datasheet")


def test_gpu_peak_fp32_and_unknown_devices() -> None:
    assert gpu_peak("NVIDIA H100 80GB HBM3", "fp32").flops_per_s == pytest.approx(67e12)
    unknown = gpu_peak("Tesla T4")
    assert unknown.flops_per_s is None and "unknown GPU" in unknown.source


def test_cpu_peak_is_measured_and_labelled() -> None:
    peak = measured_cpu_peak(size=256, repeats=2)
    assert peak.flops_per_s is not None and peak.flops_per_s > 1e8
    assert peak.precision == "fp32" and peak.source.startswith("measured in this run")


# --- the GPU-resident data path, run on the CPU device ---------------------------------------------


class LazySource:
    """A file-like source: counts reads, so an upload can be seen to happen once."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images
        self.reads = 0

    def __len__(self) -> int:
        return len(self.images)

    def read(self, indices: np.ndarray) -> np.ndarray:
        self.reads += 1
        return self.images[indices]


def lazy_data(count: int = 40, side: int = 16) -> tuple[GalaxyData, LazySource]:
    rng = np.random.default_rng(0)
    source = LazySource(rng.integers(0, 256, (count, side, side, 3), dtype=np.uint8))
    return GalaxyData(source, rng.integers(0, 4, count), tuple("abcd"), "lazy"), source


@pytest.fixture
def resident_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat the CPU like a GPU with room: datasets are uploaded to it as tensors."""
    monkeypatch.setattr(device_data, "keeps_resident", lambda nbytes, device: True)


def test_views_of_one_dataset_share_one_upload(resident_on_cpu: None) -> None:
    data, source = lazy_data()
    train_part = data.subset(np.arange(0, 30)).subset(np.array([4, 0, 29, 7]))  # a fraction of a split
    test_part = data.subset(np.arange(30, 40))
    train_reader = device_data.device_reader(train_part, CPU)
    reads_after_upload = source.reads
    test_reader = device_data.device_reader(test_part, CPU)
    assert source.reads == reads_after_upload  # the second view reuses the resident copy

    batch = train_reader.read(np.array([2, 0]))
    assert isinstance(batch, torch.Tensor) and batch.dtype == torch.uint8
    assert np.array_equal(batch.numpy(), train_part.read(np.array([2, 0])))
    assert np.array_equal(np.asarray(test_reader.read(np.arange(10))), test_part.read(np.arange(10)))
    del data, train_part, test_part, train_reader, test_reader, source, batch
    gc.collect()
    assert not device_data._kept  # the copy goes with the dataset


def test_without_room_batches_are_read_from_the_source() -> None:
    data, _ = lazy_data()
    assert device_data.device_reader(data, CPU) is data  # the CPU keeps files lazy
    in_memory = GalaxyData(ArraySource(np.zeros((4, 8, 8, 3), np.uint8)), np.zeros(4, int), ("a",), "mem")
    reader = device_data.device_reader(in_memory.subset(np.array([3, 1])), CPU)
    assert isinstance(reader, device_data.Gather) and reader.images is in_memory.source.images  # no copy


# --- the shared training step ----------------------------------------------------------------------


def previous_preprocessing(prep: Preprocessing, images: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    """bench/train/preprocess.py before the fast path (same size in and out): scale, rotate, normalise."""
    batch = torch.as_tensor(images).permute(0, 3, 1, 2).float().div_(255.0)
    n = batch.shape[0]
    angles = torch.rand(n, generator=generator) * (2 * torch.pi)
    mirror = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(angles) * mirror, -torch.sin(angles)
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(angles) * mirror, torch.cos(angles)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    batch = F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return (batch - torch.tensor(prep.mean).view(1, -1, 1, 1)) / torch.tensor(prep.std).view(1, -1, 1, 1)


def tiny_objective() -> Objective:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4))
    return Objective(model, list(model.parameters()), lambda x, y: {"loss": F.cross_entropy(model(x), y)}, None)


CFG = FinetuneConfig(epochs=1, batch_size=8, lr=1e-2, weight_decay=0.0)


@pytest.mark.slow
def test_train_step_loss_is_the_previous_pipelines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast path (resident data gathered by index, fused resample + normalise) against the loop as it
    was (host reads, scale/rotate/normalise in three passes): the same losses, step after step."""
    monkeypatch.setattr(device_data, "keeps_resident", lambda nbytes, device: True)
    data, _ = lazy_data()
    prep = Preprocessing(image_size=16)
    fast, before = tiny_objective(), tiny_objective()
    step = TrainStep(fast, data, CFG, prep, CPU, 3, 1, torch.Generator().manual_seed(1))
    assert isinstance(step.images, device_data.Gather)
    optimizer = torch.optim.AdamW(before.parameters, lr=CFG.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, train.warmup_cosine(3, 1))
    generator = torch.Generator().manual_seed(1)
    for batch in (np.arange(8), np.arange(8, 16), np.array([3, 9, 20, 31, 1, 2, 5, 39])):
        ours = step(batch)["loss"]
        images = previous_preprocessing(prep, data.read(batch), generator)
        theirs = before.loss(images, torch.as_tensor(data.labels[batch]))["loss"]
        optimizer.zero_grad()
        theirs.backward()
        optimizer.step()
        schedule.step()
        assert float(ours.detach()) == pytest.approx(float(theirs.detach()), rel=1e-5, abs=1e-6)


class TinyTrainer:
    """A method's training half: ``finetune`` runs the shared-loop calls ``objectives`` hands over."""

    def __init__(self, objective: Objective) -> None:
        self.objective = objective

    def objectives(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> list[FitCall]:
        return [FitCall(self.objective, train, cfg, Preprocessing(16), CPU)]

    def finetune(self, train: GalaxyData, val: GalaxyData | None, cfg: FinetuneConfig) -> FitReport:
        [call] = self.objectives(train, val, cfg)
        return call.run()


@pytest.mark.slow
def test_objectives_train_nothing_and_hand_over_what_finetune_trains() -> None:
    objective = tiny_objective()
    objective = Objective(objective.module, iter(list(objective.parameters)), objective.loss, None)  # one-shot
    before = copy.deepcopy(objective.module.state_dict())
    data, _ = lazy_data()
    method = TinyTrainer(objective)
    assert isinstance(method, TrainsObjectives)
    calls = list(method.objectives(data, None, CFG))
    assert all(torch.equal(before[k], v) for k, v in objective.module.state_dict().items())
    (call,) = calls
    assert call.train is data and len(call.objective.parameters) == 4  # listed, so it can be reused
    report = fit(call.objective, data, CFG, Preprocessing(16), CPU)  # trained: trains
    assert report.train_images == 40
    assert method.finetune(data, None, CFG).train_images == 40  # finetune trains the same calls


def test_the_fast_path_is_an_argument_of_the_step() -> None:
    data, _ = lazy_data()
    objective = tiny_objective()
    eager = TrainStep(objective, data, CFG, Preprocessing(16), CPU, 3, 1, torch.Generator())
    compiled = TrainStep(objective, data, CFG, Preprocessing(16), CPU, 3, 1, torch.Generator(), FastPath(compile=True))
    assert eager.loss is objective.loss and compiled.loss is not objective.loss
    with pytest.raises(FrozenInstanceError):  # no process-wide switch to flip
        train.EAGER.compile = True  # type: ignore[misc]


def test_perf_names_the_capability_a_method_lacks() -> None:
    from bench.perf.measure import PerfSettings, timed_call

    class Untrainable:
        name = "untrainable"

    with pytest.raises(BenchError, match=r"untrainable cannot be timed .* lacks the TrainsObjectives capability"):
        timed_call(Untrainable(), synthetic_data(4, 16), PerfSettings.for_device(PROFILES["demo"], CPU))  # type: ignore[arg-type]


def test_batched_outputs_halve_the_batch_on_out_of_memory() -> None:
    data, _ = lazy_data(count=21)
    sizes: list[int] = []

    def forward(images: torch.Tensor) -> torch.Tensor:
        sizes.append(len(images))
        if len(images) > 4:
            raise torch.OutOfMemoryError("too big")
        return images.mean(dim=(1, 2, 3), keepdim=True)

    out = batched_outputs(forward, data, Preprocessing(16), CPU, batch_size=16, keep_on_device=True)
    expected = batched_outputs(lambda x: x.mean(dim=(1, 2, 3), keepdim=True), data, Preprocessing(16), CPU, 21)
    assert sizes[:3] == [16, 8, 4] and torch.allclose(out, expected)


# --- pretrained models: loaded once per process ----------------------------------------------------


def test_pretrained_copy_builds_once_and_leaves_the_rng_alone(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file({"x": torch.zeros(1)}, str(path))
    weights = ResolvedWeights("pretrained", "explicit", str(path), "toy")
    builds = []

    def build() -> nn.Module:
        builds.append(1)
        return nn.Linear(3, 2)  # random init draws from the global RNG

    torch.manual_seed(0)
    first = pretrained_copy(weights, "toy", build)
    after_first = torch.rand(1)
    torch.manual_seed(0)
    second = pretrained_copy(weights, "toy", build)
    assert torch.equal(torch.rand(1), after_first)  # same RNG state, built or copied
    assert len(builds) == 1 and first is not second and torch.equal(first.weight, second.weight)
    save_file({"x": torch.ones(2)}, str(path))  # a changed file is loaded again
    pretrained_copy(weights, "toy", build)
    assert len(builds) == 2
    with pytest.raises(ValueError):
        pretrained_copy(ResolvedWeights("random"), "toy", build)


def test_a_grid_loads_a_pretrained_backbone_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import timm

    from baselines.resnet import ResNet18

    checkpoint = tmp_path / "resnet18.safetensors"
    save_file(timm.create_model("resnet18", num_classes=0).state_dict(), str(checkpoint))
    loads: list[str] = []
    create = ResNet18.create_backbone
    monkeypatch.setattr(ResNet18, "create_backbone", lambda self, ctx, w: loads.append("x") or create(self, ctx, w))
    ctx = BuildContext(tuple("abcd"), PROFILES["paper"], "pretrained", CPU, weights_file=str(checkpoint))
    models = []
    for _ in range(2):
        method = ResNet18()
        method.build(ctx)
        models.append(method.model.backbone)
    assert len(loads) == 1
    assert models[0] is not models[1]
    assert torch.equal(models[0].conv1.weight, models[1].conv1.weight)


# --- attention kernels of the transformer methods ---------------------------------------------------


def build_demo(name: str) -> Any:
    method: Any = create_method(name)
    method.build(BuildContext(("Round Smooth", "Merging"), PROFILES["demo"], "random", CPU))
    return method


@pytest.mark.parametrize("name", ["vit16", "msn", "galaxalign-vit16"])
def test_transformers_run_fused_attention(name: str) -> None:
    """timm, transformers (ViTMSNModel) and open_clip (nn.MultiheadAttention) attend through SDPA."""
    method = build_demo(name)
    size = method.prep.image_size
    forward = method.model.encode_image if hasattr(method.model, "encode_image") else method.model
    assert count_flops(lambda: forward(torch.randn(2, 3, size, size))).fused_attention


def test_maxvit_attention_calls_sdpa() -> None:
    """MaxViT adds a learned relative-position bias as the mask: SDPA's math path on the CPU, a
    fused kernel on CUDA; either way timm calls SDPA, not its own softmax(q k^T) v."""
    flags = [m.fused_attn for m in build_demo("zoobot-maxvit").model.modules() if hasattr(m, "fused_attn")]
    assert flags and all(flags)


# --- the reference loop and the perf files -----------------------------------------------------------


def test_reference_dataset_gives_normalised_tensors_of_the_model_size() -> None:
    data = synthetic_data(4, 24)
    image, label = PilAugmented(data, Preprocessing(image_size=16, mean=(0.5,) * 3, std=(0.5,) * 3))[1]
    assert image.shape == (3, 16, 16) and label == int(data.labels[1])
    assert float(image.min()) >= -1.0 and float(image.max()) <= 1.0


def fake_perf(device_type: str = "cuda") -> dict[str, Any]:
    numbers = {
        "batch_size": 64, "image_size": 224, "train_images_per_s": 1200.0, "embed_images_per_s": 4000.0,
        "peak_memory_gb": 12.5, "flops_per_image": 52.6e9, "mfu": 0.45, "fused_attention": True,
        "reference_train_images_per_s": 300.0, "speedup": 4.0,
    }
    return {
        "device": "NVIDIA H100 80GB HBM3", "device_type": device_type, "profile": "paper",
        "weights": "random init", "peak": {"flops_per_s": 989.5e12, "precision": "bf16", "source": "datasheet: H100"},
        "settings": {"warmup_steps": 10, "steps": 30, "images": 2048, "source_size": 256, "reference_workers": 8},
        "environment": {}, "methods": {"vit16": numbers, "broken": {"error": "out of memory. Fix: lower --batch-size"}},
    }


def test_perf_files_hold_the_numbers_the_device_and_the_command(tmp_path: Path) -> None:
    json_path, markdown_path = write_perf(fake_perf(), tmp_path / "perf.json", "bench perf --methods vit16")
    saved = json.loads(json_path.read_text())
    assert saved["methods"]["vit16"]["train_images_per_s"] == 1200.0 and saved["device_type"] == "cuda"
    markdown = markdown_path.read_text()
    assert "NVIDIA H100 80GB HBM3" in markdown and "bench perf --methods vit16" in markdown and GPU_COMMAND in markdown
    assert "| vit16 | 64 | 224 | 1,200.0 | 300.0 | 4.00x | 4,000.0 | 12.50 | 52.600 | 45.0 % | fused SDPA |" in markdown
    assert "failed: out of memory" in markdown
    assert "cannot be judged" not in markdown and "cannot be judged" in perf_markdown(fake_perf("cpu"), "x")


@pytest.mark.slow
def test_bench_perf_measures_a_tiny_model_against_the_reference(tmp_path: Path, run_bench) -> None:
    out = tmp_path / "perf.json"
    result = run_bench(["perf", "--methods", "resnet18", "--profile", "demo", "--device", "cpu", "--steps", "2",
                        "--warmup", "1", "--images", "16", "--batch-size", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    perf = json.loads(out.read_text())
    assert (perf["device_type"], perf["profile"]) == ("cpu", "demo")
    numbers = perf["methods"]["resnet18"]
    assert numbers["train_images_per_s"] > 0 and numbers["embed_images_per_s"] > 0
    assert numbers["speedup"] == pytest.approx(numbers["train_images_per_s"] / numbers["reference_train_images_per_s"])
    assert numbers["mfu"] == pytest.approx(
        numbers["flops_per_image"] * numbers["train_images_per_s"] / perf["peak"]["flops_per_s"]
    )
    assert numbers["flops_per_image"] > 1e6 and numbers["peak_memory_gb"] is None
    assert out.with_suffix(".md").is_file()
