"""The text modality: one description per morphology class, as "A picture of a/an {description}".

The descriptions are the datasets' own (bench/data/captions/classes.py: one table per family of
datasets, keyed by normalised class name). A user overrides or extends them with a JSON file
``{class name: description}`` (``--option prompts=PATH``); a class found in neither is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.data.captions import classes
from bench.data.captions.classes import with_article
from methods.clip.text import read_overrides

TEMPLATE = "A picture of {}"  # filled with a description and its article


def prompt(description: str) -> str:
    """The sentence for one description; a description that already starts with an article keeps it."""
    return TEMPLATE.format(with_article(description))


def query_text(query: str) -> str:
    """A search query in the prompts' form ("A picture of a/an ..."), unless it already is."""
    query = query.strip()
    return query if query.lower().startswith("a picture of") else prompt(query)


def describe(class_name: str, overrides: Mapping[str, str] | None = None) -> str:
    """The description of ``class_name``: the override file first, then the built-in table."""
    return classes.describe(class_name, overrides)


def class_prompts(class_names: Sequence[str], overrides_path: str | Path | None = None) -> list[str]:
    """One prompt per class, in ``class_names`` order."""
    overrides = read_overrides(overrides_path) if overrides_path else None
    return [prompt(describe(name, overrides)) for name in class_names]
