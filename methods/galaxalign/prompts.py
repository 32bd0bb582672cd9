"""The text modality: one description per morphology class, as "A picture of a/an {description}".

One table, keyed by class name, covers every dataset the bench knows (Galaxy10 DECaLS and the demo
set share Galaxy10's ten names; GalaxyMNIST has four). Keys are matched after normalisation
(case, underscores, hyphens and runs of spaces are ignored), so ``smooth_round`` and
``Smooth Round`` are one class. A user overrides or extends the table with a JSON file
``{class name: description}`` (``--option prompts=PATH``); a class found in neither is an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.api.errors import BenchError
from methods.galaxalign.class_tables import keyed, lookup, read_mapping

TEMPLATE = "A picture of {article} {description}"

# Descriptions are noun phrases without an article. The two GalaxyMNIST wordings the paper
# quotes ("an unbarred-spiral galaxy", "a cigar round smooth galaxy", section 3.1) are kept
# verbatim; the others spell out the class name as a Galaxy Zoo volunteer would read it.
DESCRIPTIONS: dict[str, str] = {
    # Galaxy10 DECaLS (and the demo set)
    "Disturbed": "disturbed galaxy",
    "Merging": "merging galaxy",
    "Round Smooth": "round smooth galaxy",
    "In-between Round Smooth": "in-between round smooth galaxy",
    "Cigar Shaped Smooth": "cigar-shaped smooth galaxy",
    "Barred Spiral": "barred spiral galaxy",
    "Unbarred Tight Spiral": "unbarred tight spiral galaxy",
    "Unbarred Loose Spiral": "unbarred loose spiral galaxy",
    "Edge-on without Bulge": "edge-on galaxy without bulge",
    "Edge-on with Bulge": "edge-on galaxy with bulge",
    # GalaxyMNIST
    "smooth_round": "smooth round galaxy",
    "smooth_cigar": "cigar round smooth galaxy",
    "edge_on_disk": "edge-on disk galaxy",
    "unbarred_spiral": "unbarred-spiral galaxy",
}

# Words whose first letter misleads: a vowel sounded as a consonant, or a silent h.
_CONSONANT_SOUND = ("one", "once", "uni", "use", "usu", "uto", "ura", "ure", "euro", "eu", "ewe", "ufo", "u-")
_VOWEL_SOUND = ("hour", "honest", "honor", "honour", "heir")
_ARTICLE = re.compile(r"^(a|an|the)\s", re.IGNORECASE)


_TABLE = keyed(DESCRIPTIONS)


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


def prompt(description: str) -> str:
    """The sentence for one description; a description that already starts with an article keeps it."""
    description = description.strip()
    if _ARTICLE.match(description):
        return f"A picture of {description}"
    return TEMPLATE.format(article=article(description), description=description)


def read_overrides(path: str | Path) -> dict[str, str]:
    """``{class name: description}`` from a JSON file, checked."""
    fix = 'write a JSON object {"class name": "description", ...}'
    return read_mapping(
        path, "prompts", fix, lambda value: bool(value.strip()), "is not an object of non-empty strings"
    )


def describe(class_name: str, overrides: Mapping[str, str] | None = None) -> str:
    """The description of ``class_name``: the override file first, then the built-in table."""
    if (description := lookup(class_name, overrides, _TABLE)) is not None:
        return description.strip()
    raise BenchError(
        f"GalaxAlign has no text description for class {class_name!r}",
        f'give one in a JSON file {{"{class_name}": "<description, e.g. barred spiral galaxy>"}} '
        "passed with --option prompts=PATH",
    )


def class_prompts(class_names: Sequence[str], overrides_path: str | Path | None = None) -> list[str]:
    """One prompt per class, in ``class_names`` order."""
    overrides = read_overrides(overrides_path) if overrides_path else None
    return [prompt(describe(name, overrides)) for name in class_names]
