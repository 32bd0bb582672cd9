"""Peak dense FLOP/s of the device a measurement ran on: a datasheet table for known GPUs, matched
by the name CUDA reports, and on the CPU a peak measured in the same run with a large matmul."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import torch

TERA = 1e12


@dataclass(frozen=True)
class GpuPeak:
    """A GPU's dense (no structured sparsity) peak: bf16 on tensor cores, and plain fp32."""

    pattern: str  # regular expression searched in torch.cuda.get_device_name()
    name: str
    bf16: float  # FLOP/s
    fp32: float  # FLOP/s


# NVIDIA datasheets. Sparse tensor-core figures are halved to dense; first match wins, so the
# more specific names (PCIe, NVL, GH200) come before the bare model.
GPU_PEAKS: tuple[GpuPeak, ...] = (
    GpuPeak(r"GH200", "GH200", 989.5 * TERA, 67 * TERA),
    GpuPeak(r"H100.*PCIe", "H100 PCIe", 756.5 * TERA, 51 * TERA),
    GpuPeak(r"H100.*NVL", "H100 NVL", 835.5 * TERA, 60 * TERA),
    GpuPeak(r"H100", "H100 SXM", 989.5 * TERA, 67 * TERA),  # CUDA calls it "NVIDIA H100 80GB HBM3"
    GpuPeak(r"H200.*NVL", "H200 NVL", 835.5 * TERA, 60 * TERA),
    GpuPeak(r"H200", "H200 SXM", 989.5 * TERA, 67 * TERA),
    GpuPeak(r"A100", "A100", 312 * TERA, 19.5 * TERA),
    GpuPeak(r"RTX A6000", "RTX A6000", 154.8 * TERA, 38.7 * TERA),
    GpuPeak(r"RTX 6000 Ada", "RTX 6000 Ada", 364.2 * TERA, 91.1 * TERA),
    GpuPeak(r"\bA40\b", "A40", 149.7 * TERA, 37.4 * TERA),
    GpuPeak(r"L40S", "L40S", 362.05 * TERA, 91.6 * TERA),
    GpuPeak(r"\bL40\b", "L40", 181.05 * TERA, 90.5 * TERA),
    GpuPeak(r"\bL4\b", "L4", 121 * TERA, 30.3 * TERA),
    GpuPeak(r"\bA10\b", "A10", 125 * TERA, 31.2 * TERA),
)


@dataclass(frozen=True)
class Peak:
    """The FLOP/s that model FLOP utilisation divides by, and where the number comes from."""

    flops_per_s: float | None  # None: unknown device
    precision: str  # the precision the training step runs at: bf16 on CUDA, fp32 on the CPU
    source: str


def gpu_peak(device_name: str, precision: str = "bf16") -> Peak:
    """The datasheet peak of the first table entry whose pattern occurs in ``device_name``."""
    for gpu in GPU_PEAKS:
        if re.search(gpu.pattern, device_name):
            value = gpu.bf16 if precision == "bf16" else gpu.fp32
            return Peak(value, precision, f"datasheet: {gpu.name} dense {precision} {value / TERA:g} TFLOP/s")
    return Peak(None, precision, f"unknown GPU {device_name!r}: no peak in bench/perf/peaks.py, MFU not computed")


def measured_cpu_peak(size: int = 2048, repeats: int = 3) -> Peak:
    """fp32 FLOP/s of the best of ``repeats`` ``size`` x ``size`` matmuls, measured now."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up: thread pool and caches
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    value = 2 * size**3 / best
    return Peak(value, "fp32", f"measured in this run: best of {repeats} fp32 {size}x{size} matmuls, "
                f"{value / 1e9:.1f} GFLOP/s on {torch.get_num_threads()} threads")


def device_peak(device: torch.device) -> Peak:
    """The peak for the precision the training step runs at on ``device`` (bf16 autocast on CUDA)."""
    if device.type == "cuda":
        return gpu_peak(torch.cuda.get_device_name(device), "bf16")
    return measured_cpu_peak()
