"""Per-galaxy captions of the synthetic sets, written from what the renderer drew (bench/data/demo.py
``Drawn``): one short English sentence per image (well inside CLIP's 77 tokens) naming its shape, brightness, arms
and their winding, bar, bulge, inclination, size, knots and clumps, companions and tidal features, dust lane and
the field sources beside it. The words follow the drawn values through fixed thresholds, so two galaxies of
one class get different captions where they look different.

``VERSION`` is part of every run identity that uses these captions (bench/data/captions/sources.py): bump it
whenever the text written for the same drawing changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bench.data.captions.classes import with_article

if TYPE_CHECKING:
    from bench.data.demo import Drawn

SOURCE = "rendered"
VERSION = 1

_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")


def _word(value: float, thresholds: Sequence[float], words: Sequence[str]) -> str:
    """``words[i]`` for the first threshold ``value`` lies below (the last word above them all)."""
    for threshold, word in zip(thresholds, words, strict=False):
        if value < threshold:
            return word
    return words[-1]


def _count(number: int, noun: str, plural: str = "") -> str:
    """``number`` ``noun``s in words: "one tidal tail", "three blue clumps"."""
    said = _NUMBERS[number] if number < len(_NUMBERS) else str(number)
    return f"{said} {noun}" if number == 1 else f"{said} {plural or noun + 's'}"


def _joined(parts: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _brightness(drawn: Drawn) -> str:
    """"faint ", "" or "bright ": how much light the galaxy gives, said before its size."""
    return _word(drawn.flux, (2.8e4, 5.5e4), ("faint ", "", "bright "))


def _spiral(drawn: Drawn) -> str:
    size = _brightness(drawn) + _word(drawn.radius, (2.3, 2.9), ("small", "medium-sized", "large"))
    tilt = _word(drawn.axis_ratio, (0.65, 0.85), ("steeply inclined", "inclined", "face-on"))
    bar = "barred" if drawn.bar else "unbarred"
    winding = _word(drawn.pitch_degrees, (13.0, 21.0), ("tightly", "moderately", "loosely"))
    bulge = _word(drawn.bulge_fraction, (0.12, 0.25), ("a faint bulge", "a modest bulge", "a bright bulge"))
    parts = [_count(drawn.arms, f"{winding} wound arm"), bulge]
    if drawn.knots:
        parts.append(_count(drawn.knots, "bright knot"))
    return f"{with_article(f'{size} {tilt} {bar} spiral galaxy')} with {_joined(parts)}"


def _smooth(drawn: Drawn) -> str:
    size = _brightness(drawn) + _word(drawn.radius, (1.8, 3.2), ("compact", "medium-sized", "extended"))
    shape = _word(drawn.axis_ratio, (0.4, 0.6, 0.85), ("cigar-shaped", "elongated", "oval", "round"))
    core = _word(drawn.sersic_index, (2.2, 3.5), ("a soft diffuse profile", "a smooth light profile",
                                                  "a sharply concentrated core"))
    return f"{with_article(f'{size} {shape} smooth galaxy')} with {core}"


def _edge_on(drawn: Drawn) -> str:
    length = _brightness(drawn) + _word(drawn.radius, (4.3, 5.7), ("short", "medium-length", "long"))
    thinness = _word(drawn.axis_ratio, (0.09, 0.115), ("very thin", "thin", "thick"))
    disk = with_article(f"{length} {thinness} edge-on disk galaxy")
    if not drawn.bulge_fraction:
        return f"{disk} with no bulge"
    bulge = _word(drawn.bulge_fraction, (0.4,), ("a small round bulge", "a prominent round bulge"))
    lane = _word(drawn.dust_lane, (0.2, 0.45), ("", " and a faint dust lane", " cut by a dark dust lane"))
    return f"{disk} with {bulge}{lane}"


def _merging(drawn: Drawn) -> str:
    closeness = _word(drawn.separation, (7.0, 11.0), ("overlapping", "close", "well separated"))
    size = _brightness(drawn) + _word(drawn.radius, (3.0, 4.2), ("small", "medium-sized", "large"))
    features = ["a tidal bridge"] if drawn.bridge else []
    if drawn.tails:
        features.append(_count(drawn.tails, "tidal tail"))
    joined = f" with {_joined(features)}" if features else " with no tidal features"
    return f"two {closeness} {size} galaxies merging{joined}"


def _disturbed(drawn: Drawn) -> str:
    size = _brightness(drawn) + _word(drawn.radius, (3.8, 4.7), ("small", "medium-sized", "large"))
    parts = [_count(drawn.lumps, "diffuse lump"), _count(drawn.clumps, "blue clump")]
    if drawn.tails:
        parts.append("a faint plume")
    return f"{with_article(f'{size} disturbed irregular galaxy')} of {_joined(parts)}"


def _field(drawn: Drawn) -> str:
    """What lies beside the galaxy: ", beside two field stars and a bright star", or nothing."""
    parts = [_count(drawn.field_stars, "field star")] if drawn.field_stars else []
    if drawn.field_galaxies:
        parts.append(_count(drawn.field_galaxies, "background galaxy", "background galaxies"))
    if drawn.bright_star:
        parts.append("a bright star")
    return f", beside {_joined(parts)}" if parts else ""


_BODIES: dict[str, Callable[[Drawn], str]] = {
    "spiral": _spiral, "smooth": _smooth, "edge-on": _edge_on, "merger": _merging, "irregular": _disturbed,
}


def caption(drawn: Drawn) -> str:
    """One sentence describing what ``drawn`` records."""
    sentence = _BODIES[drawn.shape](drawn) + _field(drawn)
    return sentence[0].upper() + sentence[1:] + "."
