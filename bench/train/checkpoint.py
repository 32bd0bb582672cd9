"""Check that a pretrained model really holds the weights of its file.

Libraries load weights leniently: timm with ``num_classes=0`` loads non-strictly and only warns
about a file whose keys are someone else's, so a foreign file would leave a model at its random
initialisation while the run record says "pretrained". ``checked_load`` wraps a library's own
loader: the state dict the library finally hands to ``model.load_state_dict`` (after its own key
remapping and resizing) must hold every parameter and buffer of the model, each with the model's
shape. Keys the file has beyond the model (a classifier head the model was built without) are
ignored. Every failure, an unreadable file included, is a one-line BenchError naming the fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch import nn

from bench.api.errors import BenchError

SHOWN = 3  # keys named in an error message


def weights_fix(method: str, identifier: str) -> str:
    """The fix for weights that do not fit: point bench at the published files."""
    return f"point --weights {method}= / BENCH_WEIGHTS_DIR at the files of {identifier}"


def folder_weights_file(folder: Path) -> Path:
    """The weights file that timm and transformers read from a Hub-layout folder:
    model.safetensors where there is one, else pytorch_model.bin."""
    safetensors = folder / "model.safetensors"
    return safetensors if safetensors.is_file() else folder / "pytorch_model.bin"


def differences(expected: Mapping[str, Any], loaded: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(keys of ``expected`` absent from ``loaded``, 'key: file SHAPE, model SHAPE' for those of another shape)."""
    missing = [key for key in expected if key not in loaded]
    mismatched = [
        f"{key}: file {tuple(getattr(loaded[key], 'shape', ()))}, model {tuple(value.shape)}"
        for key, value in expected.items()
        if key in loaded and tuple(getattr(loaded[key], "shape", ())) != tuple(value.shape)
    ]
    return missing, mismatched


def require_all(
    method: str, path: str, total: int, missing: Sequence[str], mismatched: Sequence[str], fix: str
) -> None:
    """BenchError unless no tensor of the model's ``total`` is missing from ``path`` or of another shape."""
    problems = []
    if missing:
        more = ", ..." if len(missing) > SHOWN else ""
        problems.append(f"{len(missing)} of the model's {total} tensors missing ({', '.join(missing[:SHOWN])}{more})")
    if mismatched:
        problems.append(f"{len(mismatched)} of another shape (first {mismatched[0]})")
    if problems:
        raise BenchError(f"{method}: {path} does not hold this model's weights: {'; '.join(problems)}", fix)


def _read(file: Path) -> Mapping[str, Any] | None:
    """``file`` as a state dict, read by timm's reader (safetensors by its name, else a torch
    checkpoint read weights only, unwrapped from a training checkpoint); None when it is neither."""
    from timm.models import load_state_dict

    try:
        loaded = load_state_dict(str(file))
    except Exception:  # torch and safetensors raise many types for a file that is not theirs
        return None
    return loaded if isinstance(loaded, Mapping) else {}


def _unreadable(method: str, file: str, error: Exception, fix: str) -> BenchError:
    if _read(Path(file)) is None:
        return BenchError(f"{method}: {file} is not a torch or safetensors checkpoint", fix)
    reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return BenchError(f"{method}: the weights in {file} cannot be loaded ({type(error).__name__}: {reason})", fix)


@contextmanager
def reading(method: str, file: str, fix: str) -> Iterator[None]:
    """Turn a library loader's failure on ``file`` into a one-line BenchError: a file that is no
    torch or safetensors checkpoint is said to be none, rather than advised ``weights_only=False``."""
    try:
        yield
    except BenchError:
        raise
    except Exception as error:  # the libraries raise many types for unreadable or unfitting weights
        raise _unreadable(method, file, error, fix) from error


@contextmanager
def checked_load(model: nn.Module, method: str, file: str, fix: str) -> Iterator[None]:
    """Run a library's loader of ``file`` into ``model`` inside this block; raises BenchError unless
    the loader handed ``model.load_state_dict`` every tensor of the model with its shape. When the
    loader fails before that (a key conversion that finds none of its keys), the file's own keys
    are compared with the model's."""
    seen: list[bool] = []
    expected = model.state_dict()

    def check(module: nn.Module, state_dict: Mapping[str, Any], prefix: str, *_: Any) -> None:
        seen.append(True)
        require_all(method, file, len(expected), *differences(expected, state_dict), fix)

    handle = model.register_load_state_dict_pre_hook(check)
    try:
        yield
    except BenchError:
        raise
    except Exception as error:  # the libraries raise many types for unreadable or unfitting weights
        if not seen and (saved := _read(Path(file))) is not None:
            require_all(method, file, len(expected), *differences(expected, saved), fix)
        raise _unreadable(method, file, error, fix) from error
    finally:
        handle.remove()
    if not seen:
        raise BenchError(f"{method}: nothing was loaded from {file}", fix)
