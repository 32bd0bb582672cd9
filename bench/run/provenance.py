"""Where a number came from: package versions, git commit, device."""

from __future__ import annotations

import platform
import resource
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

PACKAGES = ("galaxy-bench", "torch", "torchvision", "timm", "open_clip_torch", "transformers", "numpy")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_sha() -> str:
    """The commit of the checkout this package runs from (with '+dirty' for local changes)."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}+dirty" if dirty else sha


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when there is a GPU, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> dict[str, Any]:
    """Peak GPU memory allocated by torch, or on the CPU the process's peak resident size."""
    if device.type == "cuda":
        return {"peak_memory_mb": torch.cuda.max_memory_allocated(device) / 2**20, "memory_kind": "cuda_allocated"}
    return {"peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "memory_kind": "process_rss"}


def environment(device: torch.device, rank_devices: tuple[torch.device, ...] = ()) -> dict[str, Any]:
    """Where a run ran: ``device``, or, trained as DDP ranks, one rank per entry of ``rank_devices``
    (``world_size`` says how many ranks; 1 for a run in one process)."""
    return {
        "device": str(device),
        "world_size": max(1, len(rank_devices)),
        "rank_devices": [str(each) for each in rank_devices or (device,)],
        "device_name": device_name(device),
        "python": platform.python_version(),
        "packages": package_versions(),
        "git_sha": git_sha(),
    }
