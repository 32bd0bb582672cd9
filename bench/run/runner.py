"""Execute RunSpecs: skip finished ones, record every outcome, never lose a finished record."""

from __future__ import annotations

import errno
import math
import os
import random
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError

from bench.api import registry
from bench.api.capabilities import SavesModel, TrainsZoobotRecipe, lacking
from bench.api.data import DataOptions, DatasetSplits, GalaxyData
from bench.api.errors import BenchError
from bench.api.method import BuildContext, FinetuneConfig, Method
from bench.api.profiles import get_profile
from bench.api.spec import RunSpec
from bench.data.captions import classes, sources
from bench.data.splits import nested_fraction
from bench.eval.outputs import (
    compute_outputs,
    evaluate,
    evaluate_subsets,
    needed_outputs,
    text_method,
    thin_classes,
)
from bench.io.atomic import remove_stale_temps
from bench.io.progress import console, progress_bar
from bench.run import claims, provenance, ranks
from bench.run.artifacts import from_outputs, save_artifacts
from bench.run.eta import GridClock
from bench.run.interrupt import signal_of
from bench.run.record import RunData, RunRecord, describe
from bench.run.store import ResultStore
from bench.train.distributed import RankFailed
from bench.train.linear_probe import frozen_config


@dataclass
class RunSettings:
    """What a grid shares: where results and data live, the device, explicit weight files."""

    results: Path
    data: DataOptions = field(default_factory=DataOptions)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    weights_files: dict[str, str] = field(default_factory=dict)  # method -> file (--weights m=path)
    weights_dir: str | None = None
    save_models: bool = False  # keep each fine-tuned model next to its record (methods that are SavesModel)
    rank_devices: tuple[torch.device, ...] = ()  # two or more: each cell trains as DDP ranks, rank r on device r
    captions: str | None = None  # --captions: the source of cells that use captions (None: the dataset's default)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def finetune_config(method: Method, spec: RunSpec, train_size: int) -> FinetuneConfig:
    """The method's defaults for the profile, with the spec's seed, adaptation and overrides; an
    epoch covers at least the profile's share of the full training split of ``train_size`` images.

    Under ``--adapt linear`` the defaults become the frozen protocol's (bench/train/linear_probe.py);
    under ``--adapt zoobot`` they are the method's ``zoobot_config``: zoobot's own recipe, whose epoch
    is one pass over the training images (no floor)."""
    allowed = {f.name for f in fields(FinetuneConfig)}
    unknown = sorted(set(dict(spec.overrides)) - allowed)
    if unknown:
        raise BenchError(f"unknown training settings {unknown}", f"use FinetuneConfig fields: {sorted(allowed)}")
    profile = get_profile(spec.profile)
    if spec.adapt == "zoobot":
        if not isinstance(method, TrainsZoobotRecipe):
            raise lacking(method, TrainsZoobotRecipe, "train with --adapt zoobot")
        base, settings = method.zoobot_config(profile), {}
    else:
        base = method.default_config(profile)
        if spec.adapt == "linear":
            base = frozen_config(profile, base)
        settings = {"min_epoch_images": math.ceil(profile.fraction_epoch_share * train_size)}
    return replace(base, seed=spec.seed, adapt=spec.adapt, **{**settings, **dict(spec.overrides)})


def describe_error(error: BaseException) -> str:
    """One line for a failure; the fix where we know it."""
    if isinstance(error, BenchError):
        return str(error)
    if isinstance(error, ValidationError):
        return f"the run's record is not valid: {describe(error)}"
    if isinstance(error, torch.OutOfMemoryError):
        return "out of memory. Fix: lower --batch-size, or use a smaller --profile"
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        where = Path(error.filename).parent if error.filename else "the results directory"
        return f"no space left on device in {where}. Fix: free space or choose --results elsewhere"
    return f"{type(error).__name__}: {error}"


class Runner:
    """Runs specs one after another into a ResultStore, loading each dataset once."""

    def __init__(self, settings: RunSettings, store: ResultStore | None = None) -> None:
        self.settings = settings
        self.store = store or ResultStore(settings.results)
        self._datasets: dict[str, DatasetSplits | BenchError] = {}
        self.held_elsewhere: list[RunSpec] = []  # the last run's cells skipped as other live processes held them

    def dataset(self, name: str) -> DatasetSplits:
        if name not in self._datasets:
            try:
                self._datasets[name] = registry.load_dataset(name, self.settings.data)
            except BenchError as error:
                self._datasets[name] = error
        loaded = self._datasets[name]
        if isinstance(loaded, BenchError):
            raise loaded
        return loaded

    def run(self, specs: list[RunSpec], estimates: Sequence[float | None] | None = None) -> list[RunRecord]:
        """Run every spec not already done and not being run by another live process (see
        bench.run.claims; those it skips are left in ``held_elsewhere``); returns the records of this
        call's runs, written or not (a record the disk refused is returned all the same). ``estimates``
        (seconds per spec, from bench.grid.plan) drive the time left the progress bar shows. Temp files
        that killed writers left in the results directory are removed first."""
        if removed := remove_stale_temps(self.store.root, claims.STALE_AFTER_S):
            console.print(f"removed {len(removed)} temp file(s) left by killed writers in {self.store.root}",
                          soft_wrap=True)
        self.held_elsewhere = []
        todo = [(i, spec) for i, spec in enumerate(specs) if not self.store.is_done(spec)]
        if skipped := len(specs) - len(todo):
            console.print(f"{skipped} of {len(specs)} runs already done in {self.store.root}: skipped")
        clock = GridClock([(estimates or [None] * len(specs))[i] for i, _ in todo])
        records = []
        with progress_bar(transient=False, eta=False) as bar:
            grid = bar.add_task("grid", total=len(todo), status=clock.describe())
            for index, (_, spec) in enumerate(todo):
                cell = f"{spec.method} {spec.dataset} f={spec.fraction:g} seed={spec.seed}"
                bar.update(grid, status=f"{clock.describe()} · {cell}")
                record = self._run_claimed(spec)
                if record is None:
                    clock.skip(index)
                else:
                    clock.finish(index, record.wall_seconds or 0.0)
                    records.append(record)
                    if record.status != "ok":
                        console.print(f"[red]failed[/] {_cell(spec)}: {record.error}", soft_wrap=True)
                bar.update(grid, advance=1, status=clock.describe())
        return records

    def _run_claimed(self, spec: RunSpec) -> RunRecord | None:
        """Run ``spec`` and write its record while holding its claim; None when another live process
        holds it, or finished it since this grid started. Interrupted (SIGINT, or SIGTERM under
        bench.run.interrupt), it keeps nothing of the cell, releases the claim and says so."""
        path = self.store.path_for(spec)
        try:
            other = claims.acquire(path)
        except OSError as error:  # the claim itself cannot be written (a full disk): not run, not recorded
            return RunRecord(run_id=spec.run_id, spec=spec, **_failure(error))
        if other is not None:
            console.print(f"skipped {_cell(spec)}: being run by {other.describe()}", soft_wrap=True)
            self.held_elsewhere.append(spec)
            return None
        try:
            if self.store.is_done(spec):
                return None
            console.print(f"running {_cell(spec)} (pid {os.getpid()})", soft_wrap=True)
            return self._keep(self.run_one(spec))
        except KeyboardInterrupt as interrupt:
            if not self.store.is_done(spec):
                self._discard_outputs(spec)
            console.print(f"interrupted {_cell(spec)} ({signal_of(interrupt).name}): nothing of it kept, its claim "
                          "released; rerun the same command to resume the grid from it", soft_wrap=True)
            raise
        finally:
            claims.release(path)

    def _keep(self, record: RunRecord) -> RunRecord:
        """Write ``record`` (a failed run keeps no outputs). When the disk refuses it (e.g. full), that
        failure becomes the cell's outcome: its failed record is written instead, or, refused too, said
        in one line. Returns the outcome."""
        try:
            if record.status != "ok":
                self._discard_outputs(record.spec)
            self.store.write(record)
        except OSError as error:
            if record.status == "ok":
                return self._keep(_as_failed(record, error))
            console.print(f"[red]not recorded[/] {_cell(record.spec)}: {describe_error(error)}", soft_wrap=True)
        return record

    def _discard_outputs(self, spec: RunSpec) -> None:
        """Delete the files a run of ``spec`` writes before its record: its test outputs and saved model."""
        for suffix in (".npz", ".pt"):
            self.store.path_for(spec).with_suffix(suffix).unlink(missing_ok=True)

    def run_one(self, spec: RunSpec) -> RunRecord:
        """Train and evaluate one spec; any failure becomes a failed record instead of an exception. With
        two or more ``rank_devices`` it trains as that many DDP ranks (bench/run/ranks.py), the peak
        memory recorded being rank 0's."""
        device, ranked = self.settings.device, len(self.settings.rank_devices) > 1
        started_at = datetime.now(UTC).isoformat()
        environment = provenance.environment(device, self.settings.rank_devices)
        started = time.perf_counter()
        provenance.reset_peak_memory(device)
        try:
            trained = ranks.train_and_evaluate(self.settings, spec) if ranked else self._train_and_evaluate(spec)
            outcome = {**trained, "status": "ok", "error": None}
        except RankFailed as error:
            outcome = {"status": "failed", "error": error.line, "traceback": error.details}
        except Exception as error:  # a grid goes on past one failed cell; the record keeps the reason
            outcome = _failure(error)
        common = {
            "run_id": spec.run_id, "spec": spec, "started_at": started_at, "environment": environment,
            "wall_seconds": time.perf_counter() - started, "finished_at": datetime.now(UTC).isoformat(),
            **provenance.peak_memory(device),
        }
        try:
            return RunRecord(**(common | outcome))
        except ValidationError as error:  # e.g. a task that reports a metric that is not a number
            return RunRecord(**common, **_failure(error))

    def _save_model(self, method: Method, spec: RunSpec) -> str | None:
        """Save the fine-tuned model beside its record when asked and the method has the SavesModel capability."""
        if not self.settings.save_models or not isinstance(method, SavesModel):
            return None
        return str(method.save(self.store.path_for(spec).with_suffix(".pt")))

    def _train_and_evaluate(self, spec: RunSpec, train_only: bool = False) -> dict[str, Any]:
        """The outcome of training and evaluating ``spec``; with ``train_only`` (a DDP rank other
        than 0) it only trains, and the outcome is empty."""
        splits = self.dataset(spec.dataset)
        captions = None
        if sources.uses_captions(spec.method, spec.tasks):
            source = sources.cell_source(self.settings.captions, spec.method, spec.profile, spec.dataset,
                                         self.settings.data)
            splits = sources.attach(splits, source, spec.dataset, self.settings.data)
            captions = source.describe()
        method = registry.create_method(spec.method)
        if spec.variant not in method.variants:
            raise BenchError(
                f"{spec.method} has no variant {spec.variant!r}", f"use one of {', '.join(method.variants)}"
            )
        registry.check_tasks(spec.tasks)
        cfg = finetune_config(method, spec, len(splits.train))
        seed_everything(spec.seed)
        context = BuildContext(
            class_names=splits.class_names,
            profile=get_profile(spec.profile),
            init=spec.init,
            device=self.settings.device,
            variant=spec.variant,
            weights_file=self.settings.weights_files.get(spec.method),
            weights_dir=self.settings.weights_dir,
            options=dict(spec.options),
            text_table=registry.dataset_info(spec.dataset).text,
        )
        for warning in thin_classes(splits.test.labels, splits.class_names, spec.tasks):
            console.print(f"[yellow]warning:[/] {_cell(spec)}: {warning}", soft_wrap=True)
        text_method(method, spec.tasks)  # a task that needs text, a method that cannot embed it: fail before training
        class_text = (classes.class_text(splits.class_names, context.text_table)  # a class without a description too
                      if "class_text" in needed_outputs(spec.tasks) else None)
        weights = method.build(context)
        train = splits.train.subset(nested_fraction(splits.train.labels, spec.fraction, spec.seed))
        fit = method.finetune(train, splits.val, cfg)
        if train_only:
            return {}
        outputs = compute_outputs(method, splits.test, spec.tasks, self.settings.device, class_text)
        labels = splits.test.labels
        evaluation = evaluate(outputs, labels, spec.tasks)
        subsets = evaluate_subsets(outputs, labels, spec.tasks, splits.test_subsets)
        undefined = dict(evaluation.undefined)
        undefined |= {f"{name}/{task}": why for name, each in subsets.items() for task, why in each.undefined.items()}
        artifacts = save_artifacts(
            self.store.path_for(spec).with_suffix(".npz"), from_outputs(outputs, labels)
        )
        saved = self._save_model(method, spec)
        return {
            "model_path": saved,
            "metrics": evaluation.metrics,
            "subset_metrics": {name: each.metrics for name, each in subsets.items()},
            "undefined_tasks": undefined,
            "artifacts": artifacts.name,  # relative to the record's folder
            "weights": weights,
            "config": cfg.to_dict(),
            "fit": fit.to_dict(),
            "train_images_per_s": fit.train_images_per_s,
            "data": RunData(
                protocol=splits.protocol,
                train=len(train),
                train_full=len(splits.train),
                val=len(splits.val),
                test=len(splits.test),
                class_names=list(splits.class_names),
                image_size=image_side(splits.test),
                **({"captions": captions} if captions else {}),  # unset otherwise: other records stay as they were
            ),
        }


def image_side(data: GalaxyData) -> int:
    """The side in pixels of ``data``'s images (its first image's height: every set's images are square)."""
    return int(data.read(np.arange(1)).shape[1])


def _failure(error: BaseException) -> dict[str, Any]:
    """The fields of a failed record: the one-line reason and the traceback."""
    return {"status": "failed", "error": describe_error(error), "traceback": traceback.format_exc()}


def _as_failed(record: RunRecord, error: BaseException) -> RunRecord:
    """``record``'s run failed by ``error``: when, where and how long it ran, none of its results."""
    facts = ("run_id", "spec", "started_at", "environment", "wall_seconds", "finished_at", "peak_memory_mb",
             "memory_kind")
    return RunRecord(**{name: getattr(record, name) for name in facts}, **_failure(error))


def _cell(spec: RunSpec) -> str:
    return f"{spec.method} {spec.dataset} {spec.run_id}"


def missing_weights(specs: list[RunSpec], settings: RunSettings) -> list[str]:
    """One error line per (method, profile, --option settings) whose pretrained weights cannot be
    found (the options may pick other weights, e.g. a pretrained tag; an error shared by several
    settings is listed once): checked before any training starts, so a grid never dies hours in for a
    missing file."""
    from bench.train.weights import for_run

    errors = []
    wanted = {(s.method, s.profile, s.options) for s in specs if s.init == "pretrained"}
    for method_name, profile_name, options in sorted(wanted):
        try:
            method = registry.create_method(method_name)
            spec = method.weights_spec(get_profile(profile_name), dict(options))
            for_run(method_name, spec, "pretrained", settings.weights_files.get(method_name), settings.weights_dir)
        except BenchError as error:
            errors.append(str(error))
    return list(dict.fromkeys(errors))
