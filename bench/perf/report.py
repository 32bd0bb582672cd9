"""A perf measurement as files: the JSON (read by `bench run --dry-run`) and a markdown table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.io.atomic import write_atomically
from bench.report import markdown_table

GPU_COMMAND = "bench perf --methods all --profile paper --device cuda"
TIMING = {True: "run back to back between two CUDA synchronisations", False: "rate of the median step"}
HEADERS = ["method", "batch", "px", "train img/s", "reference img/s", "speedup", "embed img/s",
           "peak GPU GB", "GFLOP/img (train)", "MFU", "attention"]


def _number(value: Any, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def method_row(name: str, numbers: dict[str, Any]) -> list[str]:
    if "error" in numbers:
        return [name, *["–"] * (len(HEADERS) - 2), f"failed: {numbers['error']}"]
    mfu = numbers["mfu"]
    return [
        name,
        str(numbers["batch_size"]),
        str(numbers["image_size"]),
        _number(numbers["train_images_per_s"]),
        _number(numbers["reference_train_images_per_s"]),
        f"{numbers['speedup']:.2f}x",
        _number(numbers["embed_images_per_s"]),
        _number(numbers["peak_memory_gb"], 2),
        _number(numbers["flops_per_image"] / 1e9, 3),
        "n/a" if mfu is None else f"{100 * mfu:.1f} %",
        "fused SDPA" if numbers["fused_attention"] else "–",
    ]


def compile_rows(methods: dict[str, Any]) -> list[list[str]]:
    return [
        [name, _number(n["train_images_per_s"]), _number(n["compiled_train_images_per_s"]),
         f"{n['compile_speedup']:.2f}x", _number(n["compile_warmup_seconds"])]
        for name, n in methods.items()
        if "compiled_train_images_per_s" in n
    ]


def perf_markdown(perf: dict[str, Any], command: str) -> str:
    """The perf table with the device, the command that measured it and how to read it."""
    settings, peak = perf["settings"], perf["peak"]
    lines = [
        "# Training and embedding throughput",
        "",
        f"Device: **{perf['device']}** ({perf['device_type']}), profile `{perf['profile']}`, measured with",
        "",
        f"```bash\n{command}\n```",
        "",
        f"On a GPU, the numbers for the paper grid come from `{GPU_COMMAND}`.",
        "",
        markdown_table(HEADERS, [method_row(name, numbers) for name, numbers in perf["methods"].items()]),
        "",
        f"- Weights: {perf['weights']}.",
        f"- Ours: the shared loop's `TrainStep` (bench/train/loop.py) on each method's own objective, "
        f"{settings['warmup_steps']} warm-up steps then {settings['steps']} timed steps "
        f"({TIMING[perf['device_type'] == 'cuda']}), "
        f"{settings['images']} synthetic {settings['source_size']} px uint8 cutouts held on the device, "
        "augmented there (rotation, flips, resize in one `grid_sample`), bf16 autocast and fused AdamW on CUDA, "
        "channels_last for convolutional nets. For a multi-stage method, its last stage.",
        "- Reference: the same model and loss in a typical fine-tuning loop: a torch DataLoader "
        f"({settings['reference_workers']} workers) turning each image into a PIL image and augmenting it with "
        "torchvision (RandomRotation, flips, Resize, ToTensor, Normalize), fp32, default memory format, "
        "default AdamW. Speedup = ours / reference, timed in the same run.",
        "- Embed: the method's `embed` over every synthetic cutout (forward passes only).",
        f"- MFU: training FLOPs per image (forward + backward, counted by torch's FlopCounterMode) x images/s "
        f"over the peak; peak {peak['precision']}: {peak['source']}.",
        "- Peak GPU memory: torch's peak allocation during the timed steps, resident data included "
        "(n/a on the CPU).",
    ]
    compiled = compile_rows(perf["methods"])
    if compiled:
        headers = ["method", "eager img/s", "compiled img/s", "speedup", "warm-up s (compile)"]
        lines += ["", "## torch.compile", "", markdown_table(headers, compiled)]
    if perf["device_type"] == "cpu":
        lines += ["", "On the CPU these numbers only show the code path works: the fast path is built for the GPU "
                  "(resident data, asynchronous copies, bf16, fused kernels), and torch.compile cannot be judged "
                  "here."]
    return "\n".join(lines) + "\n"


def merged(perf: dict[str, Any], json_path: Path, command: str) -> dict[str, Any]:
    """``perf`` merged into the file at ``json_path`` when that holds the same device type and profile:
    its other methods are kept (this run's replace those of the same name) and the commands are listed;
    otherwise ``perf`` alone."""
    try:
        old = json.loads(json_path.read_text())
    except (OSError, ValueError):
        old = None
    new = {**perf, "command": command}
    if not isinstance(old, dict) or (old.get("device_type"), old.get("profile")) != (perf["device_type"],
                                                                                      perf["profile"]):
        return new
    commands = [c for c in str(old.get("command", "")).splitlines() if c and c != command]
    return {**new, "methods": {**old.get("methods", {}), **perf["methods"]}, "command": "\n".join([*commands, command])}


def write_perf(perf: dict[str, Any], json_path: Path, command: str) -> tuple[Path, Path]:
    """Write ``json_path`` (merged with what it holds for the same device type and profile, see
    :func:`merged`) and the markdown beside it (same name, ``.md``), atomically; returns both paths."""
    whole = merged(perf, json_path, command)
    markdown_path = json_path.with_suffix(".md")
    write_atomically(json_path, lambda file: file.write((json.dumps(whole, indent=2) + "\n").encode()))
    write_atomically(markdown_path, lambda file: file.write(perf_markdown(whole, whole["command"]).encode()))
    return json_path, markdown_path
