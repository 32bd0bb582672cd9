"""Fingerprints of the files that change a run's result (its dataset's files or --data-path, a --weights
file, a file an --option names, the captions of a cell that uses them), put in each RunSpec's identity: a
changed file is a new run, never "already done", and its results never mix with those of the old file in
one table."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path

from bench.api import registry
from bench.api.data import DataOptions
from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.data.captions import sources
from bench.run.runner import RunSettings

CHUNK = 1 << 20
WHOLE_FILE_LIMIT = 64 * CHUNK  # larger files: size, mtime and a hash of their first and last MiB


def file_fingerprint(path: Path) -> str:
    """A content hash of a file up to WHOLE_FILE_LIMIT; beyond, its size, mtime and a hash of its ends."""
    stat = path.stat()
    digest = hashlib.sha256()
    with path.open("rb") as file:
        if stat.st_size <= WHOLE_FILE_LIMIT:
            while chunk := file.read(CHUNK):
                digest.update(chunk)
            return f"sha256 {digest.hexdigest()[:16]}"
        digest.update(file.read(CHUNK))
        file.seek(max(0, stat.st_size - CHUNK))
        digest.update(file.read())
    return f"size {stat.st_size}, mtime {stat.st_mtime_ns}, ends sha256 {digest.hexdigest()[:16]}"


def folder_fingerprint(path: Path) -> str:
    """A hash of every file's relative path, size and mtime under ``path`` (a folder dataset's images)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(path).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return f"files sha256 {digest.hexdigest()[:16]}"


@cache
def fingerprint(path: str, what: str) -> str:
    """The fingerprint of the file or folder ``path`` that ``what`` (a flag) names."""
    found = Path(path).expanduser()
    if found.is_dir():
        return folder_fingerprint(found)
    if found.is_file():
        return file_fingerprint(found)
    raise BenchError(f"{what} {path} does not exist", f"check the path given to {what}")


def data_files(dataset: str, options: DataOptions) -> list[Path]:
    """The files a run of ``dataset`` reads: the dataset's own (DatasetInfo.files), else the --data-path it
    is given; none for a synthetic set, or where they cannot be found (the loader then names the fix)."""
    info = registry.dataset_info(dataset)
    if info.synthetic:
        return []
    try:
        if info.files is not None:
            return info.files(options)
    except BenchError:
        return []
    path = Path(options.path).expanduser() if options.path else None
    return [path] if path is not None and path.exists() else []


def with_inputs(specs: Sequence[RunSpec], settings: RunSettings) -> list[RunSpec]:
    """``specs`` with the fingerprints of the files that change their result in their identity."""
    found = []
    for spec in specs:
        inputs = {f"data {path.name}": fingerprint(str(path), "the data file")
                  for path in data_files(spec.dataset, settings.data)}
        weights = settings.weights_files.get(spec.method)
        if weights and Path(weights).expanduser().exists() and spec.init == "pretrained":
            inputs["weights"] = fingerprint(weights, "--weights")
        for key, value in spec.options:
            if Path(value).expanduser().is_file():
                inputs[f"option {key}"] = fingerprint(value, f"--option {key}=")
        if sources.uses_captions(spec.method, spec.tasks):
            inputs["captions"] = captions_input(spec, settings)
        found.append(replace(spec, inputs=tuple(sorted(inputs.items()))))
    return found


def captions_input(spec: RunSpec, settings: RunSettings) -> str:
    """The caption source a cell uses and a fingerprint of its text: its file's, else the version of the
    text (bench/data/captions/sources.py ``text_version``). BLIP captions not written yet stop the grid
    when ``--captions blip`` asked for them; where the cell's recipe asks (CosmoCLIP), that cell alone fails,
    saying how to write them."""
    source = sources.cell_source(settings.captions, spec.method, spec.profile, spec.dataset, settings.data)
    if source.kind == sources.BLIP and source.path is not None and not source.path.is_file():
        if settings.captions is None:
            return f"{source.label}, not written yet"
        raise BenchError(f"no BLIP captions of {spec.dataset} by {source.model} (looked for {source.path})",
                         f"write them with `bench captions blip --dataset {spec.dataset} --model {source.model}`")
    text = fingerprint(str(source.path), "--captions") if source.path else sources.text_version(source)
    return f"{source.label}, {text}"
