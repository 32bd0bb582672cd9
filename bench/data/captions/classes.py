"""Class descriptions and zero-shot prompt templates, one TOML file per family of datasets beside this
module (``galaxy10.toml`` serves Galaxy10 DECaLS and the demo set, which share class names).

Class names are matched after normalisation (bench/data/captions/tables.py), so ``smooth_round`` and
``Smooth Round`` are one class; a dataset without a file of its own (a folder of cutouts) finds its
classes in any shipped table, and a user's JSON file ``{class name: description}`` overrides them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from bench.api.errors import BenchError
from bench.api.text import ClassText
from bench.data.captions.tables import keyed, lookup

HERE = Path(__file__).parent
DEFAULT_TABLE = "galaxy10"  # whose templates a dataset without a table of its own uses

# Words whose first letter misleads: a vowel sounded as a consonant, or a silent h.
_CONSONANT_SOUND = ("one", "once", "uni", "use", "usu", "uto", "ura", "ure", "euro", "eu", "ewe", "ufo", "u-")
_VOWEL_SOUND = ("hour", "honest", "honor", "honour", "heir")
_ARTICLE = re.compile(r"^(a|an|the)\s", re.IGNORECASE)


def article(phrase: str) -> str:
    """"a" or "an" for ``phrase``, by the sound of its first word."""
    word = phrase.strip().lower()
    if not word:
        raise ValueError("an empty phrase has no article")
    if word.startswith(_VOWEL_SOUND):
        return "an"
    if word.startswith(_CONSONANT_SOUND):
        return "a"
    return "an" if word[0] in "aeiou" else "a"


def with_article(phrase: str) -> str:
    """``phrase`` led by its article, unless it already starts with one."""
    phrase = phrase.strip()
    return phrase if _ARTICLE.match(phrase) else f"{article(phrase)} {phrase}"


@cache
def table(name: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """(normalised class name -> description, zero-shot templates) of the shipped file ``name``.toml."""
    with (HERE / f"{name}.toml").open("rb") as file:
        loaded = tomllib.load(file)
    return keyed(loaded["descriptions"]), tuple(loaded["zeroshot"]["templates"])


def table_names() -> list[str]:
    return sorted(path.stem for path in HERE.glob("*.toml"))


def describe(class_name: str, overrides: Mapping[str, str] | None = None, table_name: str | None = None) -> str:
    """The description (no article) of ``class_name``: the overrides first, then table ``table_name``,
    then every shipped table."""
    for name in ([table_name] if table_name else []) + table_names():
        if (description := lookup(class_name, overrides, table(name)[0])) is not None:
            return description.strip()
    raise BenchError(
        f"no text description for class {class_name!r}",
        f'give one in a JSON file {{"{class_name}": "<description, e.g. barred spiral galaxy>"}} '
        "(GalaxAlign and the CLIP methods: --option prompts=PATH)",
    )


def class_text(class_names: Sequence[str], table_name: str | None = None,
               overrides: Mapping[str, str] | None = None) -> ClassText:
    """The classes' descriptions (with their articles) and the zero-shot templates of ``table_name``
    (a dataset's ``DatasetInfo.text``; the default table's templates where it has none)."""
    descriptions = tuple(with_article(describe(name, overrides, table_name)) for name in class_names)
    return ClassText(descriptions, table(table_name or DEFAULT_TABLE)[1])
