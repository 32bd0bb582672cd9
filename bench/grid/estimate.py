"""How long cells will take, learnt from what was measured.

A cell's estimate is the first of:

1. the mean wall time of this results directory's finished runs of the same cell (every seed of it)
   on the same device type: setup, every stage, validation and early stopping included;
2. the same from a timings file (``reports/timings.json`` beside the perf file, written by `bench report` from the runs
   behind the committed reports);
3. the cell's image counts divided by the method's throughput: from finished records of this
   results directory (same device type and profile), else from a `bench perf` file. Training images
   are then an upper bound (early stopping may end a run sooner), and throughput is that of full
   fine-tuning, so linear-probe cells (trained on cached features) are overestimated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bench.api import registry
from bench.api.data import DataOptions, SplitSizes
from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.io.atomic import write_atomically
from bench.run.record import RunRecord
from bench.run.runner import finetune_config

DEFAULT_PERF_FILE = Path("reports/perf.json")
TIMINGS_FILE = "timings.json"  # written by `bench report` beside the leaderboard
RATE_KEYS = ("train_images_per_s", "embed_images_per_s")  # per method in a perf file


@dataclass(frozen=True)
class Throughput:
    """Images per second of one method: in training steps, and in evaluation (forward passes only)."""

    train_images_per_s: float
    embed_images_per_s: float
    source: str  # where the numbers were measured


@dataclass(frozen=True)
class Workload:
    """Images one cell processes: in training steps, and in evaluation passes (val each epoch, test)."""

    train_images: int
    eval_images: int

    def seconds(self, throughput: Throughput) -> float:
        return (
            self.train_images / throughput.train_images_per_s + self.eval_images / throughput.embed_images_per_s
        )


def device_type(device: str, world_size: int = 1) -> str:
    """``cuda:1`` -> ``cuda``; trained as DDP ranks, their count too: ``cuda x2`` (timed apart from one device)."""
    kind = device.partition(":")[0]
    return kind if world_size == 1 else f"{kind} x{world_size}"


def record_device_type(record: RunRecord) -> str:
    """The device type a run ran on, with its world size when over 1 ('' when its record does not say)."""
    environment = record.environment or {}
    return device_type(str(environment.get("device", "")), int(environment.get("world_size", 1)))


def from_perf_file(path: Path, device: str, profile: str) -> tuple[dict[str, Throughput], str | None]:
    """Throughput per method from a `bench perf` file, and why it was not used (None when it was)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, f"no perf file {path} (`bench perf` writes one)"
    except (OSError, ValueError) as error:
        raise BenchError(
            f"perf file {path} is not readable JSON ({error})", "rerun `bench perf` or pass --perf FILE"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("methods"), dict):
        raise BenchError(f"perf file {path} has no 'methods' table", "rerun `bench perf` or pass another --perf FILE")
    if (data.get("device_type"), data.get("profile")) != (device, profile):
        return {}, f"perf file {path} is for {data.get('device_type')}/{data.get('profile')}, not {device}/{profile}"
    source = f"{path.name} ({data.get('device', device)})"
    found = {}
    for method, numbers in data["methods"].items():
        rates = [numbers.get(key) if isinstance(numbers, dict) else None for key in RATE_KEYS]
        if all(isinstance(rate, (int, float)) and rate > 0 for rate in rates):
            found[method] = Throughput(float(rates[0]), float(rates[1]), source)  # type: ignore[arg-type]
    return found, None


def from_records(records: Iterable[RunRecord], device: str, profile: str) -> dict[str, Throughput]:
    """Throughput per method pooled over finished full fine-tunes on ``device`` (a type) under ``profile``.

    Evaluation throughput counts the validation passes and one test pass per task against the
    run's time outside training steps (which also holds building the model: a slight underestimate).
    """
    totals: dict[str, list[float]] = {}  # method -> [train images, train s, eval images, eval s, runs]
    for record in records:
        spec, fit, data = record.spec, record.fit, record.data
        if (
            record.status != "ok"
            or spec.profile != profile
            or spec.adapt != "full"
            or record_device_type(record) != device
            or fit is None
            or data is None
            or record.wall_seconds is None
        ):
            continue
        try:
            eval_images = data.val * fit["epochs_run"] + data.test * len(spec.tasks)
            eval_seconds = record.wall_seconds - fit["train_seconds"]
            numbers = (float(fit["train_images"]), float(fit["train_seconds"]), float(eval_images), eval_seconds)
        except (KeyError, TypeError):  # a fit without these numbers
            continue
        pooled = totals.setdefault(spec.method, [0.0, 0.0, 0.0, 0.0, 0.0])
        for i, value in enumerate((*numbers, 1.0)):
            pooled[i] += value
    return {
        method: Throughput(train / train_s, evals / eval_s, f"{runs:.0f} finished run(s)")
        for method, (train, train_s, evals, eval_s, runs) in totals.items()
        if train_s > 0 and eval_s > 0
    }


def workload(spec: RunSpec, data: DataOptions) -> Workload | None:
    """The images ``spec`` will process, from its dataset's declared split sizes (None if it declares none).

    Training: epochs x max(train size x fraction, min_epoch_images in whole batches), the most the
    shared fit loop runs; evaluation: the validation split each epoch plus one test pass per task.
    """
    sizes = split_sizes(spec.dataset, data)
    if sizes is None:
        return None
    cfg = finetune_config(registry.create_method(spec.method), spec, sizes.train)
    floor = math.ceil(cfg.min_epoch_images / cfg.batch_size) * cfg.batch_size
    per_epoch = max(round(sizes.train * spec.fraction), floor)
    return Workload(cfg.epochs * per_epoch, cfg.epochs * sizes.val + len(spec.tasks) * sizes.test)


@cache
def split_sizes(dataset: str, data: DataOptions) -> SplitSizes | None:
    """The split sizes ``dataset`` declares (None if it declares none); looked up once per dataset."""
    info = registry.dataset_info(dataset)
    return info.sizes(registry.dataset_options(dataset, data)) if info.sizes else None


def cell_key(spec: RunSpec) -> str:
    """A cell's identity without its seed: what its runs of every seed share."""
    return _key({key: value for key, value in spec.identity().items() if key != "seed"})


def _key(cell: dict[str, Any]) -> str:
    return json.dumps(cell, sort_keys=True, default=str)


@dataclass(frozen=True)
class CellTime:
    """The mean wall time of the finished runs of one cell on one device type."""

    seconds: float
    runs: int
    source: str


def cell_times(records: Iterable[RunRecord], device: str) -> dict[str, CellTime]:
    """Mean wall seconds per cell (:func:`cell_key`) over the successful records on ``device`` (a type)."""
    totals: dict[str, list[float]] = {}
    for record in records:
        if record.status != "ok" or record.wall_seconds is None or record_device_type(record) != device:
            continue
        pooled = totals.setdefault(cell_key(record.spec), [0.0, 0.0])
        pooled[0] += record.wall_seconds
        pooled[1] += 1
    return {key: CellTime(total / runs, int(runs), f"{runs:.0f} finished run(s)") for key, (total, runs) in
            totals.items()}


def write_timings(records: Iterable[RunRecord], path: Path) -> Path:
    """The timings file: every cell's mean wall time per device type, from ``records``."""
    records = list(records)
    devices = sorted({record_device_type(record) for record in records} - {""})
    cells = [
        {"device_type": device, "cell": json.loads(key), "seconds": round(time.seconds, 2), "runs": time.runs}
        for device in devices
        for key, time in sorted(cell_times(records, device).items())
    ]
    return write_atomically(path, lambda file: file.write((json.dumps({"cells": cells}, indent=1) + "\n").encode()))


def from_timings_file(path: Path, device: str) -> dict[str, CellTime]:
    """The cell times a timings file holds for ``device`` (a type); none when the file is absent."""
    try:
        data = json.loads(path.read_text())
        entries = [entry for entry in data["cells"] if entry["device_type"] == device]
        return {_key(entry["cell"]): CellTime(float(entry["seconds"]), int(entry["runs"]),
                                                   f"{path.name} ({entry['runs']} run(s))") for entry in entries}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BenchError(f"timings file {path} is unreadable ({error})", "rerun `bench report`, or delete it") from None
