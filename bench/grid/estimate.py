"""How long cells will take: their image counts divided by measured throughput.

Throughput comes, per method, from the first of: a perf file written by `bench perf` for the same
device type and profile, or this results directory's finished records on the same device type
and profile. Training images are an upper bound: early stopping may end a run sooner. Throughput is
that of full fine-tuning, so linear-probe cells (trained on cached features) are overestimated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bench.api import registry
from bench.api.data import DataOptions, SplitSizes
from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.run.record import RunRecord
from bench.run.runner import finetune_config

DEFAULT_PERF_FILE = Path("reports/perf.json")
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


def device_type(device: str) -> str:
    """``cuda:1`` -> ``cuda``."""
    return device.partition(":")[0]


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
        spec, fit, data, environment = record.spec, record.fit, record.data, record.environment
        if (
            record.status != "ok"
            or spec.profile != profile
            or spec.adapt != "full"
            or environment is None
            or device_type(str(environment.get("device", ""))) != device
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
