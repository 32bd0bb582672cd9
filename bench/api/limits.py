"""The valid values of a run's numeric settings, one rule each, shared by the command line and grid files."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

SEED_LIMIT = 2**32  # numpy's seeds are below it


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# name -> (whether a value is valid, what a valid value is)
Rule = tuple[Callable[[Any], bool], str]
FRACTION: Rule = (lambda v: is_number(v) and 0 < v <= 1, "a number in (0, 1]")
SEED: Rule = (lambda v: is_int(v) and 0 <= v < SEED_LIMIT, "an integer from 0 to 2**32 - 1")
# FinetuneConfig fields that would train nothing, or fail mid-run, out of range.
OVERRIDES: dict[str, Rule] = {
    "epochs": (lambda v: is_int(v) and v >= 1, "an integer >= 1"),
    "batch_size": (lambda v: is_int(v) and v >= 1, "an integer >= 1"),
    "lr": (lambda v: is_number(v) and math.isfinite(v) and v > 0, "a finite number > 0"),
}


def override_problem(key: str, value: Any) -> str | None:
    """Why override ``key`` cannot be ``value`` (e.g. "epochs = 0 is not an integer >= 1"); None when it can."""
    valid, description = OVERRIDES.get(key, (lambda v: True, ""))
    return None if valid(value) else f"{key} = {value!r} is not {description}"
