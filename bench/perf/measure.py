"""Measure each method's real training step and embedding pass, and the naive reference loop.

A method is built at random init (speed does not depend on the weights' values) and hands over the
calls of the shared loop its fine-tune makes (the TrainsObjectives capability of
bench/train/loop.py). The last of them (for a multi-stage method, the last stage) is timed
through ``TrainStep``, the unit ``fit`` repeats, on synthetic uint8 cutouts of the size the
profile's main dataset has; then the method's ``embed``; then the naive reference loop
(bench/perf/reference_loop.py) on the same model, loss and images.
"""

from __future__ import annotations

import gc
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from bench.api import registry
from bench.api.capabilities import lacking
from bench.api.data import ArraySource, GalaxyData
from bench.api.errors import BenchError
from bench.api.method import BuildContext, Method
from bench.api.profiles import Profile
from bench.data.galaxy10 import CLASS_NAMES
from bench.io.progress import console
from bench.perf.flops import count_flops, mfu
from bench.perf.peaks import Peak, device_peak
from bench.perf.reference_loop import reference_step
from bench.run.provenance import device_name, environment, peak_memory, reset_peak_memory
from bench.train.loop import EAGER, FastPath, FitCall, TrainsObjectives, TrainStep, epoch_batches, synchronize

GALAXY10_SIDE = 256  # Galaxy10 DECaLS cutouts are 256 x 256; the full-size models take 224


def source_size(profile: Profile) -> int:
    """The side of the synthetic cutouts: Galaxy10 DECaLS's under a full-size profile (resized on the
    device), the profile's own under the demo profile (whose synthetic galaxies are drawn at it)."""
    return GALAXY10_SIDE if profile.model_scale == "full" else profile.image_size


def synthetic_data(count: int, side: int, seed: int = 0) -> GalaxyData:
    """``count`` random uint8 cutouts with random Galaxy10 labels and a distinct caption each (what the
    caption-trained methods read): speed does not depend on pixel values or words."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, side, side, 3), dtype=np.uint8)
    labels = rng.integers(0, len(CLASS_NAMES), size=count)
    captions = tuple(f"a synthetic cutout of a galaxy, number {i}" for i in range(count))
    return GalaxyData(ArraySource(images), labels, CLASS_NAMES, "perf-synthetic", captions=captions)


@dataclass(frozen=True)
class PerfSettings:
    """One `bench perf` run's settings, stored in its JSON."""

    profile: Profile
    device: torch.device
    warmup_steps: int
    steps: int
    images: int  # synthetic cutouts: the training batches are drawn from them and all are embedded
    batch_size: int | None  # None: each method's own
    compile: bool  # also time the step with torch.compile
    reference_workers: int

    @classmethod
    def for_device(
        cls,
        profile: Profile,
        device: torch.device,
        *,
        steps: int | None = None,
        warmup_steps: int | None = None,
        images: int | None = None,
        batch_size: int | None = None,
        compile: bool = False,
        reference_workers: int | None = None,
    ) -> PerfSettings:
        """Settings with the device's defaults for what is not given: longer timings on CUDA, a
        run under a minute per method on a laptop CPU."""
        cuda = device.type == "cuda"
        settings = cls(
            profile=profile,
            device=device,
            warmup_steps=(10 if cuda else 1) if warmup_steps is None else warmup_steps,
            steps=(30 if cuda else 5) if steps is None else steps,
            images=(2048 if cuda else 128) if images is None else images,
            batch_size=batch_size,
            compile=compile,
            reference_workers=default_reference_workers(device) if reference_workers is None else reference_workers,
        )
        if settings.steps < 1 or settings.warmup_steps < 0 or settings.images < 1 or (batch_size or 1) < 1:
            raise BenchError(
                "--steps, --images and --batch-size must be at least 1 and --warmup at least 0",
                "e.g. --steps 30 --warmup 10",
            )
        return settings

    def to_dict(self) -> dict[str, Any]:
        fields = asdict(self)
        fields.update(profile=self.profile.name, device=str(self.device), source_size=source_size(self.profile))
        return fields


def default_reference_workers(device: torch.device) -> int:
    """DataLoader workers of the reference loop: a typical script's 8 (at most one per core) beside a
    GPU; none on the CPU, where workers would only take cores from the training step itself."""
    return min(8, os.cpu_count() or 1) if device.type == "cuda" else 0


def timed_call(method: Method, data: GalaxyData, settings: PerfSettings) -> FitCall:
    """The last call of the shared loop the method's full fine-tune on ``data`` makes, the earlier
    ones taken untrained."""
    if not isinstance(method, TrainsObjectives):
        raise lacking(method, TrainsObjectives, "be timed by `bench perf` (it times the shared training loop)")
    cfg = replace(method.default_config(settings.profile), adapt="full", seed=0)
    if settings.batch_size is not None:
        cfg = replace(cfg, batch_size=settings.batch_size)
    calls = list(method.objectives(data, None, cfg))
    if not calls:
        raise BenchError(f"{method.name} trains nothing through the shared loop with its default settings",
                         "time a method or variant that fine-tunes (its objectives are what perf measures)")
    return calls[-1]


def time_call(run: Callable[[], object], device: torch.device) -> float:
    """Seconds ``run()`` takes, the device's queued work included."""
    synchronize(device)
    started = time.perf_counter()
    run()
    synchronize(device)
    return time.perf_counter() - started


def images_per_s(
    run_step: Callable[[], int], warmup_steps: int, steps: int, device: torch.device
) -> tuple[float, float]:
    """(Training images per second, seconds of the warm-up) of ``run_step``, which runs one step and
    returns its image count. On CUDA the timed steps run back to back between two synchronisations;
    on the CPU, where a step is synchronous and other processes compete for the cores, every step is
    timed and the median rate taken."""
    warmup_seconds = time_call(lambda: [run_step() for _ in range(warmup_steps)], device)
    if device.type == "cuda":
        synchronize(device)
        started = time.perf_counter()
        images = sum(run_step() for _ in range(steps))
        synchronize(device)
        return images / (time.perf_counter() - started), warmup_seconds
    rates = []
    for _ in range(steps):
        started = time.perf_counter()
        images = run_step()
        rates.append(images / (time.perf_counter() - started))
    return float(np.median(rates)), warmup_seconds


def shared_step(call: FitCall, steps: int, fast: FastPath = EAGER) -> Callable[[], int]:
    """One ``TrainStep`` (the shared loop's unit) per call, for ``steps`` calls, over ``call``'s data."""
    generator = torch.Generator().manual_seed(0)
    step = TrainStep(call.objective, call.train, call.cfg, call.prep, call.device, steps, 1, generator, fast)
    batches = itertools.islice(epoch_batches(len(call.train), call.cfg.batch_size, steps, generator), steps)
    call.objective.module.train()

    def run() -> int:
        indices = next(batches)
        step(indices)
        return len(indices)

    return run


def step_flops_per_image(call: FitCall) -> tuple[float, bool]:
    """(FLOPs of one training step per image, whether attention ran fused) from one counted step."""
    images: list[int] = []
    run = shared_step(call, 1)
    counted = count_flops(lambda: images.append(run()))
    return counted.flops / images[0], counted.fused_attention


def measure_method(name: str, settings: PerfSettings, data: GalaxyData, peak: Peak) -> dict[str, Any]:
    """Every number of one method: ours, compiled (when asked), embedding, and the reference."""
    device = settings.device
    torch.manual_seed(0)
    method = registry.create_method(name)
    method.build(BuildContext(CLASS_NAMES, settings.profile, "random", device))
    call = timed_call(method, data, settings)
    flops_per_image, fused_attention = step_flops_per_image(call)
    reset_peak_memory(device)
    total = settings.warmup_steps + settings.steps
    train_rate, _ = images_per_s(shared_step(call, total), settings.warmup_steps, settings.steps, device)
    memory = peak_memory(device)
    result: dict[str, Any] = {
        "batch_size": call.cfg.batch_size,
        "image_size": call.prep.image_size,
        "train_images_per_s": train_rate,
        "peak_memory_gb": memory["peak_memory_mb"] / 1024 if device.type == "cuda" else None,
        "flops_per_image": flops_per_image,
        "mfu": mfu(flops_per_image, train_rate, peak.flops_per_s),
        "fused_attention": fused_attention,
    }
    if settings.compile:
        compiled_rate, compile_seconds = images_per_s(
            shared_step(call, total, FastPath(compile=True)), settings.warmup_steps, settings.steps, device
        )
        result.update(compiled_train_images_per_s=compiled_rate, compile_speedup=compiled_rate / train_rate,
                      compile_warmup_seconds=compile_seconds)
    warm = data.subset(np.arange(min(len(data), 64)))
    time_call(lambda: method.embed(warm), device)
    result["embed_images_per_s"] = len(data) / time_call(lambda: method.embed(data), device)
    reference, _ = images_per_s(
        reference_step(call, total, settings.reference_workers), settings.warmup_steps, settings.steps, device
    )
    result.update(reference_train_images_per_s=reference, speedup=train_rate / reference)
    return result


def measure(methods: list[str], settings: PerfSettings) -> dict[str, Any]:
    """The perf report of ``methods``: device, peak, settings and each method's numbers (or its error)."""
    from bench.run.runner import describe_error

    peak = device_peak(settings.device)
    data = synthetic_data(settings.images, source_size(settings.profile))
    results: dict[str, Any] = {}
    for name in methods:
        console.print(f"perf: {name} ({settings.profile.name} profile, {settings.device})")
        try:
            results[name] = measure_method(name, settings, data, peak)
        except Exception as error:  # one failing method (e.g. out of memory) does not end the run
            results[name] = {"error": describe_error(error)}
            console.print(f"[red]failed[/] {name}: {results[name]['error']}")
        gc.collect()
        if settings.device.type == "cuda":
            torch.cuda.empty_cache()
    return {
        "device": device_name(settings.device),
        "device_type": settings.device.type,
        "profile": settings.profile.name,
        "weights": "random init: throughput does not depend on the weights' values",
        "peak": asdict(peak),
        "settings": settings.to_dict(),
        "environment": environment(settings.device),
        "methods": results,
    }
