"""Find a method's pretrained weights: explicit path, weights dir, library cache, then download.

Every source ends in a local path that the plugin loads through its library's own loader,
and the run record says which source it was. Nothing here falls back to random weights.
``pretrained_copy`` keeps what a loader built from a weights file, so that later runs of the same
process copy it instead of loading it again.

A spec names one weights file as published on the Hugging Face Hub. When the library's loader
also reads files beside it (a ``config.json`` for transformers and for timm ``hf_hub:`` models),
the spec lists them in ``hub_config_files`` and resolves to the folder holding them all: the
snapshot folder of the Hugging Face cache, or a folder of that name in the weights directory.
"""

from __future__ import annotations

import copy
import os
import socket
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import torch

from bench.api.errors import BenchError
from bench.api.profiles import Init
from bench.api.weights import RANDOM_INIT, ResolvedWeights, WeightsSpec

HUB_HOST = "huggingface.co"
PRISTINE_KEPT = 2  # pretrained models kept for later runs of the process (a grid runs a method's cells in a row)

Built = TypeVar("Built")
_pristine: OrderedDict[Hashable, Any] = OrderedDict()


def weights_dir_from_env() -> Path | None:
    value = os.environ.get("BENCH_WEIGHTS_DIR")
    return Path(value) if value else None


def is_online(host: str = HUB_HOST, timeout_s: float = 3.0) -> bool:
    """Whether ``host`` answers on port 443 (a quick check before a download is tried)."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def _in_weights_dir(spec: WeightsSpec, weights_dir: Path) -> Path | None:
    for name in spec.local_names:
        candidate = weights_dir / name
        if spec.is_folder:
            if candidate.is_dir():
                if spec.complete_folder(candidate):
                    return candidate
                raise BenchError(
                    f"{spec.method}: weights folder {candidate} is incomplete",
                    f"it must hold {spec.describe_files()} (the files of {spec.hub_repo})",
                )
        elif candidate.is_file():
            return candidate
    return None


def _in_hub_cache(spec: WeightsSpec) -> Path | None:
    """The cached weights file, or for a folder spec the snapshot folder holding all its files."""
    from huggingface_hub import try_to_load_from_cache

    for name in (spec.hub_filename, *spec.weights_aliases):
        found = try_to_load_from_cache(spec.hub_repo, name)
        if not isinstance(found, str):
            continue
        if not spec.is_folder:
            return Path(found)
        if spec.complete_folder(Path(found).parent):
            return Path(found).parent
    return None


def _explicit(spec: WeightsSpec, explicit: Path) -> Path:
    if not explicit.exists():
        kind = "folder" if spec.is_folder else "file"
        raise BenchError(
            f"{spec.method}: weights {kind} {explicit} does not exist",
            f"check the path given with --weights {spec.method}=PATH",
        )
    if not spec.is_folder:
        return explicit
    folder = explicit if explicit.is_dir() else explicit.parent  # a weights file names its folder
    if not spec.complete_folder(folder):
        raise BenchError(
            f"{spec.method}: weights folder {folder} is incomplete",
            f"--weights {spec.method}=FOLDER must hold {spec.describe_files()} (the files of {spec.hub_repo})",
        )
    return folder


def _fetch(spec: WeightsSpec, name: str) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(spec.hub_repo, name))
    except Exception as error:  # the hub client raises many types; all mean "not downloaded"
        raise BenchError(
            f"{spec.method}: download of {spec.hub_repo}/{name} failed ({type(error).__name__})",
            "check the network, or place the files by hand in BENCH_WEIGHTS_DIR",
        ) from error


def download(spec: WeightsSpec) -> Path:
    """Download into the Hugging Face cache: the weights file, or for a folder spec the snapshot
    folder holding every file it needs. The weights are tried under ``hub_filename``, then each
    of ``weights_aliases``; the first name the hub serves wins. Raises BenchError when that fails."""
    for name in spec.hub_config_files:
        _fetch(spec, name)
    failure: BenchError | None = None
    for name in (spec.hub_filename, *spec.weights_aliases):
        try:
            weights = _fetch(spec, name)
        except BenchError as error:
            failure = error
            continue
        return weights.parent if spec.is_folder else weights
    assert failure is not None
    raise failure


def locate(spec: WeightsSpec, explicit: Path | None, weights_dir: Path | None) -> tuple[str, Path] | None:
    """The first local source that has the weights, as (source, path), without downloading."""
    if explicit is not None:
        return "explicit", _explicit(spec, explicit)
    if weights_dir is not None and (found := _in_weights_dir(spec, weights_dir)):
        return "weights_dir", found
    if found := _in_hub_cache(spec):
        return "cache", found
    return None


def _places_looked(spec: WeightsSpec, weights_dir: Path | None) -> str:
    kind = "folder" if spec.is_folder else "file"
    names = ", ".join(f"{name}/" if spec.is_folder else name for name in spec.local_names)
    holding = f" holding {spec.describe_files()}" if spec.is_folder else ""
    cached = f"{spec.hub_repo} ({spec.describe_files()})" if spec.is_folder else f"{spec.hub_repo}/{spec.hub_filename}"
    return (
        f"--weights {spec.method}=PATH (not given); "
        f"BENCH_WEIGHTS_DIR {weights_dir or '(not set)'} for {kind} {names}{holding}; "
        f"the Hugging Face cache for {cached}; "
        f"download from {HUB_HOST} (offline)"
    )


def resolve(
    spec: WeightsSpec, explicit: Path | None = None, weights_dir: Path | None = None
) -> ResolvedWeights:
    """Pretrained weights for ``spec``, or a BenchError naming every place looked."""
    weights_dir = weights_dir or weights_dir_from_env()
    if found := locate(spec, explicit, weights_dir):
        source, path = found
        return ResolvedWeights("pretrained", source, str(path), spec.identifier)
    if is_online():
        return ResolvedWeights("pretrained", "download", str(download(spec)), spec.identifier)
    raise BenchError(
        f"{spec.method}: no pretrained weights for {spec.identifier}; looked in: {_places_looked(spec, weights_dir)}",
        f"run `bench weights fetch --methods {spec.method}` where there is internet and copy the cache, "
        f"or put the {'folder' if spec.is_folder else 'file'} in BENCH_WEIGHTS_DIR, "
        f"or pass --init random to train from scratch",
    )


def for_run(
    method: str, spec: WeightsSpec | None, init: Init, weights_file: str | None, weights_dir: str | None
) -> ResolvedWeights:
    """The weights one run starts from: random only when asked for, else resolved pretrained weights."""
    if init == "random":
        return RANDOM_INIT
    if spec is None:
        raise BenchError(
            f"{method}: this profile's model has no published pretrained weights",
            "pass --init random, or use --profile paper for the full-size pretrained model",
        )
    return resolve(spec, Path(weights_file) if weights_file else None, Path(weights_dir) if weights_dir else None)


def _file_stamp(path: str) -> tuple[str, int, int]:
    """A weights file or folder as (path, mtime, size): a changed file is a different entry."""
    stat = os.stat(path)
    return path, stat.st_mtime_ns, stat.st_size


def pretrained_copy(weights: ResolvedWeights, key: Hashable, build: Callable[[], Built]) -> Built:
    """A fresh copy of what ``build()`` makes from ``weights`` (a pretrained model, possibly with its
    preprocessing); ``key`` names everything else ``build`` depends on.

    The first call per weights file and key builds (the library initialises the model, then reads
    the file); later calls copy the pristine result kept in memory, so a grid does not re-read and
    re-initialise a several-hundred-MB model for every cell. ``build`` runs on a forked random
    state, so the global RNG after this call is the same whether the copy came from the file or the
    cache. Random-init models are never cached: their initialisation is the seeded result.
    """
    if weights.init != "pretrained" or weights.path is None:
        raise ValueError("pretrained_copy is for pretrained weights only")
    entry = (_file_stamp(weights.path), key)
    if entry in _pristine:
        _pristine.move_to_end(entry)
        kept: Built = copy.deepcopy(_pristine[entry])
        return kept
    with torch.random.fork_rng(devices=[]):
        built = build()
    if PRISTINE_KEPT > 0:
        _pristine[entry] = copy.deepcopy(built)
        while len(_pristine) > PRISTINE_KEPT:
            _pristine.popitem(last=False)
    return built
