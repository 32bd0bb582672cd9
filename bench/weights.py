"""Find a method's pretrained weights: explicit file, weights dir, library cache, then download.

Every source ends in a local path that the plugin loads through its library's own loader,
and the run record says which source it was. Nothing here falls back to random weights.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.profiles import Init

HUB_HOST = "huggingface.co"


@dataclass(frozen=True)
class WeightsSpec:
    """Where a method's published weights live.

    ``hub_repo``/``hub_filename`` name the file on the Hugging Face Hub (where timm, open_clip
    and transformers publish); ``local_names`` are the file or folder names looked for in the
    weights directory.
    """

    method: str
    identifier: str
    hub_repo: str
    hub_filename: str
    local_names: tuple[str, ...]


@dataclass(frozen=True)
class ResolvedWeights:
    """What a run started from; stored in its record."""

    init: Init
    source: str | None = None  # explicit | weights_dir | cache | download
    path: str | None = None
    identifier: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RANDOM_INIT = ResolvedWeights(init="random")


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
        if candidate.exists():
            return candidate
    return None


def _in_hub_cache(spec: WeightsSpec) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(spec.hub_repo, spec.hub_filename)
    return Path(found) if isinstance(found, str) else None


def download(spec: WeightsSpec) -> Path:
    """Download into the Hugging Face cache; raises BenchError when that fails."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(spec.hub_repo, spec.hub_filename))
    except Exception as error:  # the hub client raises many types; all mean "not downloaded"
        raise BenchError(
            f"{spec.method}: download of {spec.hub_repo}/{spec.hub_filename} failed ({type(error).__name__})",
            "check the network, or place the file by hand in BENCH_WEIGHTS_DIR",
        ) from error


def locate(spec: WeightsSpec, explicit: Path | None, weights_dir: Path | None) -> tuple[str, Path] | None:
    """The first local source that has the weights, as (source, path), without downloading."""
    if explicit is not None:
        if not explicit.exists():
            raise BenchError(
                f"{spec.method}: weights file {explicit} does not exist",
                f"check the path given with --weights {spec.method}=PATH",
            )
        return "explicit", explicit
    if weights_dir is not None and (found := _in_weights_dir(spec, weights_dir)):
        return "weights_dir", found
    if found := _in_hub_cache(spec):
        return "cache", found
    return None


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
    names = ", ".join(spec.local_names)
    looked = (
        f"--weights {spec.method}=PATH (not given); "
        f"BENCH_WEIGHTS_DIR {weights_dir or '(not set)'} for {names}; "
        f"the Hugging Face cache for {spec.hub_repo}/{spec.hub_filename}; "
        f"download from {HUB_HOST} (offline)"
    )
    raise BenchError(
        f"{spec.method}: no pretrained weights for {spec.identifier}; looked in: {looked}",
        f"run `bench weights fetch --methods {spec.method}` where there is internet and copy the cache, "
        f"or put the file in BENCH_WEIGHTS_DIR, or pass --init random to train from scratch",
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
