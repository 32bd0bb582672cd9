"""The symbol modality: schematic drawings of each morphology class, like Galaxy Zoo's guide icons.

Every class name maps to a symbol kind (a soft filled disc for a round smooth galaxy, a thin line
for an edge-on disk, a bar with two arms for a barred spiral, ...). A symbol is drawn white on
black (a bright object on a dark sky, like the galaxy images and like the volunteer icons) in a
random frame: any rotation, a scale, a line width and small jitter of every control point, so no
two samples of a class are the same picture. Soft parts (discs, bulges, blobs) are analytic
profiles on the pixel grid; line art (arms, bars, bridges) is drawn with PIL on a 4x canvas,
softened, and averaged down.

Training draws symbols from a ``SymbolBank`` rendered once per run; ``write_contact_sheet``
shows a few of every class for a person to judge.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bench.api.errors import BenchError
from bench.data.captions.tables import keyed, lookup, read_mapping

SUPERSAMPLE = 4  # line art is drawn at 4x and averaged down: smooth, anti-aliased edges


@dataclass
class _Frame:
    """Where one symbol sits: model units (1 = the symbol's nominal radius) to pixels."""

    size: int
    angle: float
    scale: float  # the nominal radius as a fraction of half the image
    centre: tuple[float, float]  # in pixels
    line: float  # line-width multiplier
    rng: np.random.Generator

    @property
    def radius_px(self) -> float:
        return self.scale * self.size / 2.0

    def uv(self) -> tuple[np.ndarray, np.ndarray]:
        """Model coordinates of every pixel centre."""
        y, x = np.mgrid[0 : self.size, 0 : self.size].astype(np.float32) + 0.5
        dx, dy = (x - self.centre[0]) / self.radius_px, (y - self.centre[1]) / self.radius_px
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        return dx * cos + dy * sin, -dx * sin + dy * cos

    def to_canvas(self, points: np.ndarray) -> list[tuple[float, float]]:
        """(n, 2) model points -> pixel positions on the supersampled canvas."""
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        u, v = points[:, 0], points[:, 1]
        x = (self.centre[0] + self.radius_px * (u * cos - v * sin)) * SUPERSAMPLE
        y = (self.centre[1] + self.radius_px * (u * sin + v * cos)) * SUPERSAMPLE
        return list(zip(x.tolist(), y.tolist(), strict=True))

    def width_px(self, model_width: float) -> int:
        """A line width in model units -> canvas pixels (at least one final pixel)."""
        return max(SUPERSAMPLE, round(model_width * self.line * self.radius_px * SUPERSAMPLE))

    def jitter(self, points: np.ndarray, amount: float = 0.02) -> np.ndarray:
        return points + self.rng.normal(0.0, amount, points.shape)


class _Sketch:
    """A symbol being drawn: soft profiles on the pixel grid plus line art on a supersampled canvas."""

    def __init__(self, frame: _Frame) -> None:
        self.frame = frame
        self.u, self.v = frame.uv()
        self.soft = np.zeros((frame.size, frame.size), dtype=np.float32)
        self.canvas = Image.new("L", (frame.size * SUPERSAMPLE,) * 2, 0)
        self.draw = ImageDraw.Draw(self.canvas)
        self.diffuse = Image.new("L", self.canvas.size, 0)  # shapes with blurred edges
        self.used: set[str] = set()  # which canvases were drawn on (blurring an empty one is wasted time)

    def disc(self, radius: float, axis_ratio: float = 1.0, at: tuple[float, float] = (0.0, 0.0),
             angle: float = 0.0, brightness: float = 1.0, softness: float = 0.12) -> None:
        """A soft filled ellipse with a brighter core: the smooth-galaxy glyph."""
        cos, sin = math.cos(angle), math.sin(angle)
        du, dv = self.u - at[0], self.v - at[1]
        a, b = du * cos + dv * sin, (-du * sin + dv * cos) / axis_ratio
        r = np.sqrt(a * a + b * b) / radius
        edge = 1.0 / (1.0 + np.exp(np.clip((r - 1.0) / softness, -50.0, 50.0)))
        core = np.exp(-2.5 * r * r)
        self.soft = np.maximum(self.soft, brightness * (0.7 * edge + 0.3 * core))

    def line(self, points: np.ndarray, width: float, taper: bool = False, brightness: float = 1.0) -> None:
        """A polyline in model units; ``taper`` thins it towards its end, like a fading spiral arm."""
        shade = round(255 * brightness)
        pixels = self.frame.to_canvas(points)
        self.used.add("canvas")
        if not taper:
            w = self.frame.width_px(width)
            self.draw.line(pixels, fill=shade, width=w, joint="curve")
            for x, y in (pixels[0], pixels[-1]):  # round caps
                self.draw.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=shade)
            return
        n = len(pixels)
        for i in range(n - 1):
            w = self.frame.width_px(width * (1.0 - 0.6 * i / max(1, n - 2)))
            self.draw.line(pixels[i : i + 2], fill=shade, width=w)
            x, y = pixels[i + 1]
            self.draw.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=shade)  # round joints

    def polygon(self, points: np.ndarray, brightness: float = 1.0) -> None:
        """A filled shape with a soft edge."""
        self.used.add("diffuse")
        ImageDraw.Draw(self.diffuse).polygon(self.frame.to_canvas(points), fill=round(255 * brightness))

    def render(self) -> np.ndarray:
        """(size, size, 3) uint8, white on black."""
        size = self.frame.size
        layers = [self.soft]
        canvases = (("canvas", self.canvas, 0.6), ("diffuse", self.diffuse, 0.05 * self.frame.radius_px))
        for name, canvas, blur in canvases:
            if name not in self.used:
                continue
            blurred = canvas.filter(ImageFilter.GaussianBlur(radius=blur * SUPERSAMPLE))
            layers.append(np.asarray(blurred.resize((size, size), Image.Resampling.BOX), dtype=np.float32) / 255.0)
        image = np.clip(np.maximum.reduce(layers), 0.0, 1.0)
        grey = np.round(image * 255.0).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)


def _spiral(r_start: float, r_end: float, pitch_degrees: float, phase: float, handed: int, n: int = 48) -> np.ndarray:
    """Points of a logarithmic spiral arm from radius ``r_start`` out to ``r_end``."""
    sweep = math.log(r_end / r_start) / math.tan(math.radians(pitch_degrees))
    t = np.linspace(0.0, sweep, n)
    r = r_start * np.exp(t * math.tan(math.radians(pitch_degrees)))
    theta = phase + handed * t
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def _u(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _wobble(points: np.ndarray, rng: np.random.Generator, amount: float = 0.025) -> np.ndarray:
    """A line's points displaced by a smooth random wave (a hand-drawn look, no jagged edges)."""
    t = np.linspace(0.0, 1.0, len(points))[:, None]
    waves = sum(
        rng.normal(0.0, amount, 2) * np.sin(2.0 * math.pi * (k * t + rng.random())) for k in (0.5, 1.0, 1.5)
    )
    return points + waves


# --- one function per symbol kind: draw into the sketch --------------------------------------


def _smooth(axis_ratio: tuple[float, float], radius: tuple[float, float]) -> Callable[[_Sketch], None]:
    def draw(s: _Sketch) -> None:
        rng = s.frame.rng
        s.disc(_u(rng, *radius), _u(rng, *axis_ratio), softness=_u(rng, 0.08, 0.16))

    return draw


def _edge_on(bulge: bool | None) -> Callable[[_Sketch], None]:
    """A thin line (a disk seen edge-on); ``bulge`` None: with or without a bulge at random."""

    def draw(s: _Sketch) -> None:
        rng = s.frame.rng
        thickness = _u(rng, 0.055, 0.085) * s.frame.line
        s.disc(_u(rng, 0.85, 0.98), thickness, angle=_u(rng, -0.04, 0.04), softness=0.06)
        with_bulge = bool(rng.random() < 0.5) if bulge is None else bulge
        if with_bulge:
            s.disc(_u(rng, 0.2, 0.28), _u(rng, 0.75, 0.95), softness=0.1)

    return draw


def _spiral_arms(
    pitch: tuple[float, float], bulge: tuple[float, float], start: tuple[float, float], barred: bool
) -> Callable[[_Sketch], None]:
    """A bulge and two arms leaving radius ``start`` (the ends of a bar when ``barred``), wound at
    ``pitch`` degrees: a small pitch winds the arms tightly, a large one loosely."""

    def draw(s: _Sketch) -> None:
        rng = s.frame.rng
        handed = int(rng.choice((-1, 1)))
        angle = _u(rng, *pitch)
        width = _u(rng, 0.07, 0.1)
        r0 = _u(rng, *start)
        if barred:  # a thick bright bar whose ends the arms leave from
            s.line(s.frame.jitter(np.array([[-r0, 0.0], [r0, 0.0]]), 0.01), width=width * 2.2)
        for phase in (0.0, math.pi):
            arm = _spiral(r0, _u(rng, 0.85, 0.98), angle, phase, handed)
            s.line(_wobble(arm, rng), width=width, taper=True)
        s.disc(_u(rng, *bulge), _u(rng, 0.85, 1.0), softness=0.1)

    return draw


def _merging(s: _Sketch) -> None:
    """Two overlapping blobs, often joined by a tidal bridge or trailing a tail."""
    rng = s.frame.rng
    first, second = _u(rng, 0.3, 0.42), _u(rng, 0.22, 0.36)
    gap = _u(rng, 0.7, 0.95) * (first + second)
    a, b = (-gap * second / (first + second), 0.0), (gap * first / (first + second), 0.0)
    s.disc(first, _u(rng, 0.7, 1.0), at=a, angle=_u(rng, 0, math.pi), softness=0.12)
    s.disc(second, _u(rng, 0.7, 1.0), at=b, angle=_u(rng, 0, math.pi), brightness=_u(rng, 0.8, 1.0))
    if rng.random() < 0.7:  # a tidal tail curving away from one of the pair
        origin = np.array(b if rng.random() < 0.5 else a)
        bend = int(rng.choice((-1, 1)))
        t = np.linspace(0.0, 1.0, 16)
        direction = np.sign(origin[0]) or 1.0
        tail = np.stack([origin[0] + direction * 0.55 * t, origin[1] + bend * 0.5 * t**2], axis=1)
        s.line(_wobble(tail, rng), width=_u(rng, 0.07, 0.1), taper=True, brightness=0.85)


def _disturbed(s: _Sketch) -> None:
    """An irregular lumpy shape with a clump or two beside it."""
    rng = s.frame.rng
    theta = np.linspace(0.0, 2.0 * math.pi, 40, endpoint=False)
    radius = np.full_like(theta, _u(rng, 0.5, 0.65))
    for harmonic in (2, 3, 5):
        radius *= 1.0 + _u(rng, 0.08, 0.2) * np.cos(harmonic * theta + _u(rng, 0.0, 2.0 * math.pi))
    outline = np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)
    s.polygon(s.frame.jitter(outline, 0.03), brightness=_u(rng, 0.75, 0.95))
    for _ in range(int(rng.integers(1, 4))):
        at_angle, at_radius = _u(rng, 0.0, 2.0 * math.pi), _u(rng, 0.55, 0.85)
        s.disc(_u(rng, 0.1, 0.17), at=(at_radius * math.cos(at_angle), at_radius * math.sin(at_angle)))


_TIGHT, _LOOSE = (9.0, 14.0), (22.0, 30.0)

SYMBOL_KINDS: dict[str, Callable[[_Sketch], None]] = {
    "smooth_round": _smooth(axis_ratio=(0.9, 1.0), radius=(0.55, 0.72)),
    "smooth_in_between": _smooth(axis_ratio=(0.55, 0.72), radius=(0.62, 0.8)),
    "smooth_cigar": _smooth(axis_ratio=(0.2, 0.32), radius=(0.78, 0.92)),
    "edge_on_no_bulge": _edge_on(bulge=False),
    "edge_on_bulge": _edge_on(bulge=True),
    "edge_on": _edge_on(bulge=None),
    "barred_spiral": _spiral_arms(pitch=(16.0, 24.0), bulge=(0.13, 0.17), start=(0.34, 0.42), barred=True),
    "tight_spiral": _spiral_arms(pitch=_TIGHT, bulge=(0.16, 0.21), start=(0.16, 0.22), barred=False),
    "loose_spiral": _spiral_arms(pitch=_LOOSE, bulge=(0.1, 0.14), start=(0.1, 0.13), barred=False),
    "spiral": _spiral_arms(pitch=(_TIGHT[0], _LOOSE[1]), bulge=(0.1, 0.2), start=(0.1, 0.2), barred=False),
    "merging": _merging,
    "disturbed": _disturbed,
}

CLASS_SYMBOLS: dict[str, str] = {
    # Galaxy10 DECaLS (and the demo set)
    "Disturbed": "disturbed",
    "Merging": "merging",
    "Round Smooth": "smooth_round",
    "In-between Round Smooth": "smooth_in_between",
    "Cigar Shaped Smooth": "smooth_cigar",
    "Barred Spiral": "barred_spiral",
    "Unbarred Tight Spiral": "tight_spiral",
    "Unbarred Loose Spiral": "loose_spiral",
    "Edge-on without Bulge": "edge_on_no_bulge",
    "Edge-on with Bulge": "edge_on_bulge",
    # GalaxyMNIST
    "smooth_round": "smooth_round",
    "smooth_cigar": "smooth_cigar",
    "edge_on_disk": "edge_on",
    "unbarred_spiral": "spiral",
}
_TABLE = keyed(CLASS_SYMBOLS)


def read_overrides(path: str | Path) -> dict[str, str]:
    """``{class name: symbol kind}`` from a JSON file, checked against the known kinds."""
    fix = f'write a JSON object {{"class name": "<kind>"}} with kinds from {", ".join(SYMBOL_KINDS)}'
    return read_mapping(
        path, "symbols", fix, lambda value: value in SYMBOL_KINDS, "names a symbol kind that does not exist"
    )


def symbol_kind(class_name: str, overrides: Mapping[str, str] | None = None) -> str:
    """The symbol kind drawn for ``class_name``: the override file first, then the built-in table."""
    if (kind := lookup(class_name, overrides, _TABLE)) is not None:
        return kind
    raise BenchError(
        f"GalaxAlign has no schematic symbol for class {class_name!r}",
        f'name one in a JSON file {{"{class_name}": "<kind>"}} passed with --option symbols=PATH '
        f"(kinds: {', '.join(SYMBOL_KINDS)})",
    )


def render_symbol(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One (size, size, 3) uint8 symbol of ``kind`` in a random frame drawn from ``rng``."""
    if kind not in SYMBOL_KINDS:
        raise BenchError(f"unknown symbol kind {kind!r}", f"use one of {', '.join(SYMBOL_KINDS)}")
    jitter = 0.04 * size
    frame = _Frame(
        size=size,
        angle=_u(rng, 0.0, 2.0 * math.pi),
        scale=_u(rng, 0.72, 0.92),
        centre=(size / 2 + _u(rng, -jitter, jitter), size / 2 + _u(rng, -jitter, jitter)),
        line=_u(rng, 0.75, 1.3),
        rng=rng,
    )
    sketch = _Sketch(frame)
    SYMBOL_KINDS[kind](sketch)
    return sketch.render()


def render_symbols(kind: str, count: int, size: int, seed: int = 0) -> np.ndarray:
    """(count, size, size, 3) uint8: ``count`` symbols of ``kind``, the same for the same seed."""
    rng = np.random.default_rng([seed, zlib.crc32(kind.encode())])
    return np.stack([render_symbol(kind, size, rng) for _ in range(count)])


@dataclass(frozen=True)
class SymbolBank:
    """Pre-rendered symbols per class: ``images[c, k]`` is symbol k of class c."""

    images: np.ndarray  # (C, K, S, S, 3) uint8
    kinds: tuple[str, ...]

    @classmethod
    def render(
        cls, class_names: Sequence[str], size: int, per_class: int, seed: int = 0,
        overrides: Mapping[str, str] | None = None,
    ) -> SymbolBank:
        kinds = tuple(symbol_kind(name, overrides) for name in class_names)
        return cls(np.stack([render_symbols(kind, per_class, size, seed) for kind in kinds]), kinds)

    @property
    def per_class(self) -> int:
        return self.images.shape[1]

    def sample(self, labels: torch.Tensor, generator: torch.Generator) -> np.ndarray:
        """One random symbol of each label's class: (n, S, S, 3) uint8."""
        choice = torch.randint(0, self.per_class, (len(labels),), generator=generator).numpy()
        return self.images[labels.cpu().numpy(), choice]

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """Every symbol as (C*K, S, S, 3) uint8 and its class index."""
        classes, per_class = self.images.shape[:2]
        return self.images.reshape(-1, *self.images.shape[2:]), np.repeat(np.arange(classes), per_class)


def write_contact_sheet(
    class_names: Sequence[str],
    out_path: str | Path,
    per_class: int = 8,
    size: int = 96,
    seed: int = 0,
    overrides: Mapping[str, str] | None = None,
) -> Path:
    """A PNG with one row per class: its name and kind, then ``per_class`` of its symbols."""
    bank = SymbolBank.render(class_names, size, per_class, seed, overrides)
    label_width, gap = 240, 4
    font = ImageFont.load_default(size=15)
    small = ImageFont.load_default(size=12)
    width = label_width + per_class * (size + gap)
    sheet = Image.new("RGB", (width, len(class_names) * (size + gap) + gap), (70, 70, 70))
    draw = ImageDraw.Draw(sheet)
    for row, (name, kind) in enumerate(zip(class_names, bank.kinds, strict=True)):
        top = gap + row * (size + gap)
        draw.text((8, top + size / 2 - 16), name, fill=(255, 255, 255), font=font)
        draw.text((8, top + size / 2 + 4), f"symbol: {kind}", fill=(190, 190, 190), font=small)
        for k in range(per_class):
            sheet.paste(Image.fromarray(bank.images[row, k]), (label_width + k * (size + gap), top))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path)
    return out_path
