"""Tables keyed by class name (prompts, symbol kinds), with user overrides from a JSON file."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from bench.api.errors import BenchError


def normalise(name: str) -> str:
    """A class name as a table key: lower case, with underscores, hyphens and spaces as one space."""
    return " ".join(re.split(r"[\s_\-]+", name.strip().lower())).strip()


def keyed(table: Mapping[str, str]) -> dict[str, str]:
    """``table`` with normalised keys."""
    return {normalise(name): value for name, value in table.items()}


def read_mapping(path: str | Path, what: str, fix: str, valid: Callable[[str], bool], invalid: str) -> dict[str, str]:
    """``{class name: value}`` from the JSON file given with ``--option {what}=PATH``, every value checked."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"{what} file {path} does not exist", f"check --option {what}=PATH; {fix}")
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        problem = f"{what} file {path} is not UTF-8 text (byte {error.start})"
        raise BenchError(problem, f"save it as UTF-8; {fix}") from None
    except json.JSONDecodeError as error:
        raise BenchError(f"{what} file {path} is not valid JSON ({error.msg}, line {error.lineno})", fix) from None
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and valid(v) for k, v in loaded.items()
    ):
        raise BenchError(f"{what} file {path} {invalid}", fix)
    return loaded


def lookup(class_name: str, overrides: Mapping[str, str] | None, table: Mapping[str, str]) -> str | None:
    """The override for ``class_name`` if the user gave one, else the built-in (normalised) table's."""
    key = normalise(class_name)
    return keyed(overrides or {}).get(key, table.get(key))
