"""Procedural synthetic galaxies: a deterministic, Galaxy10-DECaLS-like labelled demo set (numpy only).

A cutout is painted in flux units (sky noise sigma = 1) from analytic light profiles: Sersic spheroids,
exponential disks with logarithmic spiral arms, bars, dust lanes, star-forming knots and clumps, tidal arcs.
Each is coloured like a g/r/z composite (old stars red-yellow, young stars blue). The cutout is then observed:
blurred by a Moffat PSF, given sky noise and faint field sources, and mapped to 0-255 by an asinh stretch.
Lengths are in pixels of a 64 x 64 cutout and scale with the size; fluxes are in noise sigmas at that size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial

import numpy as np

from bench.api.data import ArraySource, DataOptions, DatasetInfo, DatasetSplits, GalaxyData, SplitSizes
from bench.data.captions import rendered
from bench.data.splits import split_dataset, stratified_split

CLASS_NAMES: tuple[str, ...] = (
    "Disturbed",
    "Merging",
    "Round Smooth",
    "In-between Round Smooth",
    "Cigar Shaped Smooth",
    "Barred Spiral",
    "Unbarred Tight Spiral",
    "Unbarred Loose Spiral",
    "Edge-on without Bulge",
    "Edge-on with Bulge",
)

_REFERENCE_SIZE = 64
_OLD_STARS = np.array([1.0, 0.88, 0.72])  # R, G, B weights of ellipticals and bulges
_DISK_STARS = np.array([0.95, 0.92, 0.88])  # of smooth disks and tidal debris
_YOUNG_STARS = np.array([0.72, 0.86, 1.0])  # of spiral arms, knots and clumps
_FIELD_STARS = np.array([0.85, 0.85, 0.85])
_RED_TO_BLUE = np.array([1.0, 0.0, -1.0])
_SKY_LEVEL = 0.075  # stretched value of empty sky, about 19 / 255
_STRETCH_SOFTENING = 3.0  # flux where the asinh stretch turns from linear to logarithmic
_STRETCH_GAIN = 0.085

Range = tuple[float, float]
Point = tuple[float, float]


@dataclass(frozen=True)
class Drawn:
    """What the renderer drew in one cutout, for its caption (bench/data/captions/rendered.py): the values
    its random draws took. Lengths are in pixels of a 64 x 64 cutout; a field a class does not draw keeps
    its default."""

    shape: str = ""  # what was drawn: spiral, smooth, edge-on, merger or irregular
    axis_ratio: float = 1.0  # apparent minor-to-major axis ratio; of an edge-on disk, its thickness ratio
    radius: float = 0.0  # half-light radius of a spheroid, scale length of a disk, lump size of an irregular
    sersic_index: float = 0.0  # of a smooth galaxy: 4 de Vaucouleurs (concentrated), 1 exponential
    bulge_fraction: float = 0.0  # share of the light in the bulge
    arms: int = 0
    pitch_degrees: float = 0.0  # arm pitch angle: small is tightly wound
    bar: bool = False
    knots: int = 0  # star-forming knots on the arms
    dust_lane: float = 0.0  # depth of the dust lane across an edge-on disk (0: none, at most 0.7)
    separation: float = 0.0  # between the centres of a merger's two galaxies
    bridge: bool = False  # a tidal bridge joins them
    tails: int = 0  # tidal tails (of an irregular: its plume)
    lumps: int = 0  # diffuse lumps of an irregular
    clumps: int = 0  # blue star-forming clumps of an irregular
    field_stars: int = 0
    field_galaxies: int = 0  # small background galaxies
    bright_star: bool = False
    flux: float = 0.0  # total flux of the galaxy (of a merger: its brighter member), in noise sigmas at size 64


@dataclass
class _Scene:
    """A cutout being painted: flux (3, size, size) in noise sigmas, its pixel grid and its length scale;
    ``drawn`` is what has been drawn in it so far."""

    x: np.ndarray
    y: np.ndarray
    scale: float
    flux: np.ndarray
    drawn: Drawn = field(default_factory=Drawn)

    def record(self, **facts: str | float | bool) -> None:
        """Note what was drawn (fields of Drawn)."""
        self.drawn = replace(self.drawn, **facts)  # type: ignore[arg-type]

    def paint(self, profile: np.ndarray, total_flux: float, colour: np.ndarray) -> None:
        """Add a unit-sum light profile carrying `total_flux` (at size 64, scaled with area) in `colour`."""
        self.flux += (total_flux * self.scale**2 * colour)[:, None, None] * profile

    def paint_points(self, xs: np.ndarray, ys: np.ndarray, fluxes: np.ndarray, colour: np.ndarray) -> None:
        """Add point sources, split bilinearly over the four nearest pixels; those off the cutout are lost."""
        size = self.x.shape[0]
        x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
        fx, fy = xs - x0, ys - y0
        points = np.zeros((size, size))
        corners = ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy))
        for dx, dy, weight in corners:
            col, row = x0 + dx, y0 + dy
            inside = (col >= 0) & (col < size) & (row >= 0) & (row < size)
            np.add.at(points, (row[inside], col[inside]), (fluxes * weight)[inside])
        self.paint(points, 1.0, colour)


@dataclass(frozen=True)
class _Pose:
    """Where a galaxy lies: centre (x, y) in pixels, major-axis angle, apparent minor-to-major axis ratio."""

    centre: Point
    angle: float
    axis_ratio: float = 1.0

    def plane(self, scene: _Scene) -> tuple[np.ndarray, np.ndarray]:
        """Every pixel in the galaxy's own plane: along the major axis, and across it deprojected."""
        dx, dy = scene.x - self.centre[0], scene.y - self.centre[1]
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        return dx * cos + dy * sin, (dy * cos - dx * sin) / self.axis_ratio

    def to_image(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel positions of points (u, v) of the galaxy's plane; the inverse of `plane`."""
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        v = v * self.axis_ratio
        return self.centre[0] + u * cos - v * sin, self.centre[1] + u * sin + v * cos


@lru_cache(maxsize=8)
def _pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Read-only column and row coordinates of every pixel."""
    y, x = np.mgrid[0:size, 0:size].astype(float)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def _uniform(rng: np.random.Generator, bounds: Range) -> float:
    return float(rng.uniform(*bounds))


def _log_uniform(rng: np.random.Generator, bounds: Range) -> float:
    return math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1])))


def _random_angle(rng: np.random.Generator) -> float:
    return _uniform(rng, (0.0, 2.0 * math.pi))


def _tint(colour: np.ndarray, rng: np.random.Generator, spread: float = 0.05) -> np.ndarray:
    """`colour` made redder or bluer at random, as colours vary from galaxy to galaxy."""
    return colour * np.exp(rng.normal(0.0, spread) * _RED_TO_BLUE)


def _offset(point: Point, distance: float, angle: float) -> Point:
    return point[0] + distance * math.cos(angle), point[1] + distance * math.sin(angle)


def _wrapped(angle: np.ndarray | float) -> np.ndarray:
    """Angle folded into [-pi, pi)."""
    return (np.asarray(angle) + math.pi) % (2.0 * math.pi) - math.pi


def _unit_sum(profile: np.ndarray) -> np.ndarray:
    return profile / profile.sum()


def _softened_radius(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Radius, kept above half a pixel so that cusps do not depend on where the centre falls in a pixel."""
    return np.sqrt(u * u + v * v + 0.25)


def _sersic(u: np.ndarray, v: np.ndarray, radius: float, index: float) -> np.ndarray:
    """Unit-sum Sersic profile of half-light radius `radius`: index 4 de Vaucouleurs, 1 exponential."""
    scaled = _softened_radius(u, v) / radius
    return _unit_sum(np.exp(-(2.0 * index - 1.0 / 3.0) * scaled ** (1.0 / index)))


def _gaussian_blob(scene: _Scene, centre: Point, sigma: float) -> np.ndarray:
    squared = (scene.x - centre[0]) ** 2 + (scene.y - centre[1]) ** 2
    return _unit_sum(np.exp(-0.5 * squared / (sigma * sigma + 0.1)))


def _arc(scene: _Scene, start: Point, pivot: Point, sweep: float, width: float) -> np.ndarray:
    """Unit-sum stream of light along the circle about `pivot` through `start`, turning by `sweep` radians."""
    radius = math.hypot(start[0] - pivot[0], start[1] - pivot[1])
    start_angle = math.atan2(start[1] - pivot[1], start[0] - pivot[0])
    dx, dy = scene.x - pivot[0], scene.y - pivot[1]
    across = np.hypot(dx, dy) - radius
    along = _wrapped(np.arctan2(dy, dx) - start_angle - sweep / 2.0) / (abs(sweep) / 2.0 + 1e-3)
    return _unit_sum(np.exp(-0.5 * (across / width) ** 2 - along**4) + 1e-12)


@dataclass(frozen=True)
class _SpiralArms:
    """Logarithmic arms leaving radius `start` of the galaxy plane, the first at angle 0, evenly spaced."""

    count: int
    pitch_degrees: float
    start: float
    handedness: int

    def _winding(self, radius: np.ndarray) -> np.ndarray:
        return np.log(radius / self.start) / math.tan(math.radians(self.pitch_degrees))

    def brightness(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Arm brightness in [0, 1] at galaxy-plane points (u, v)."""
        radius = _softened_radius(u, v)
        phase = self.count * (np.arctan2(self.handedness * v, u) - self._winding(radius))
        inner_cutoff = np.clip((radius - 0.7 * self.start) / (0.5 * self.start), 0.0, 1.0)
        return ((1.0 + np.cos(phase)) / 2.0) ** 3 * inner_cutoff

    def knots(self, rng: np.random.Generator, count: int, extent: float) -> tuple[np.ndarray, np.ndarray]:
        """Galaxy-plane positions (u, v) of `count` star-forming knots on the arms, `extent` long."""
        radius = self.start + rng.uniform(0.0, extent, count)
        arm = rng.integers(0, self.count, count)
        angle = self._winding(radius) + 2.0 * math.pi * arm / self.count + rng.normal(0.0, 0.12, count)
        return radius * np.cos(angle), self.handedness * radius * np.sin(angle)


@dataclass(frozen=True)
class _SmoothShape:
    """Ranges of the parameters of a smooth (elliptical) galaxy."""

    axis_ratio: Range
    radius: Range
    index: Range
    flux: Range


_ROUND_SMOOTH = _SmoothShape(axis_ratio=(0.78, 1.0), radius=(1.0, 2.5), index=(3.0, 5.0), flux=(2e4, 1e5))
_IN_BETWEEN_SMOOTH = _SmoothShape(
    axis_ratio=(0.5, 0.82), radius=(2.2, 4.5), index=(1.5, 3.0), flux=(1.5e4, 8e4)
)
_CIGAR_SMOOTH = _SmoothShape(axis_ratio=(0.2, 0.45), radius=(2.0, 4.5), index=(1.5, 3.5), flux=(1.5e4, 8e4))
_MERGER_MEMBER = _SmoothShape(axis_ratio=(0.4, 1.0), radius=(1.8, 5.0), index=(1.0, 4.0), flux=(1.5e4, 8e4))


def _add_spheroid(
    scene: _Scene, rng: np.random.Generator, centre: Point, angle: float, shape: _SmoothShape
) -> tuple[float, float, float, float]:
    """Paint a Sersic spheroid; returns its axis ratio, half-light radius (at size 64), Sersic index and flux."""
    axis_ratio = _uniform(rng, shape.axis_ratio)
    u, v = _Pose(centre, angle, axis_ratio).plane(scene)
    radius, index = _uniform(rng, shape.radius), _uniform(rng, shape.index)
    profile = _sersic(u, v, radius * scene.scale, index)
    flux = _log_uniform(rng, shape.flux)
    scene.paint(profile, flux, _tint(_OLD_STARS, rng))
    return axis_ratio, radius, index, flux


def _render_smooth(
    shape: _SmoothShape, scene: _Scene, rng: np.random.Generator, centre: Point, angle: float
) -> None:
    """A smooth elliptical galaxy."""
    axis_ratio, radius, index, flux = _add_spheroid(scene, rng, centre, angle, shape)
    scene.record(shape="smooth", axis_ratio=axis_ratio, radius=radius, sersic_index=index, flux=flux)


def _render_edge_on(
    with_bulge: bool, scene: _Scene, rng: np.random.Generator, centre: Point, angle: float
) -> None:
    """A thin disk seen edge-on; with a round central bulge and often a dust lane, or bare."""
    u, height = _Pose(centre, angle).plane(scene)
    length = _uniform(rng, (3.0, 7.0))
    scale_length = length * scene.scale
    thinness = _uniform(rng, (0.06, 0.14))
    thickness = math.hypot(thinness * scale_length, 0.45)
    disk = _unit_sum(np.exp(-np.sqrt(u * u + 1.0) / scale_length - 0.5 * (height / thickness) ** 2))
    flux = _log_uniform(rng, (2e4, 9e4))
    scene.record(shape="edge-on", axis_ratio=thinness, radius=length, flux=flux)
    if not with_bulge:
        scene.paint(disk, flux, _tint(_DISK_STARS, rng))
        return
    bulge_u, bulge_v = _Pose(centre, angle, _uniform(rng, (0.6, 0.9))).plane(scene)
    bulge = _sersic(bulge_u, bulge_v, _uniform(rng, (1.2, 2.8)) * scene.scale, _uniform(rng, (1.5, 3.0)))
    lane_depth = _uniform(rng, (0.0, 0.7))
    lane = 1.0 - lane_depth * np.exp(-0.5 * ((height - 0.3 * thickness) / (0.5 * thickness)) ** 2)
    bulge_fraction = _uniform(rng, (0.25, 0.6))
    scene.record(bulge_fraction=bulge_fraction, dust_lane=lane_depth)
    scene.paint(disk * lane, flux * (1.0 - bulge_fraction), _tint(_DISK_STARS, rng))
    scene.paint(bulge * lane, flux * bulge_fraction, _tint(_OLD_STARS, rng))


@dataclass(frozen=True)
class _SpiralShape:
    """Ranges of the parameters of a spiral class; `bar_length` in disk scale lengths, None if unbarred."""

    pitch_degrees: Range
    bulge_fraction: Range
    arm_fraction: Range
    bar_length: Range | None
    knots: tuple[int, int]


_BARRED_SPIRAL = _SpiralShape(
    pitch_degrees=(14.0, 28.0),
    bulge_fraction=(0.12, 0.3),
    arm_fraction=(0.3, 0.55),
    bar_length=(1.2, 2.0),
    knots=(0, 4),
)
_TIGHT_SPIRAL = _SpiralShape(
    pitch_degrees=(8.0, 16.0),
    bulge_fraction=(0.15, 0.4),
    arm_fraction=(0.25, 0.5),
    bar_length=None,
    knots=(0, 4),
)
_LOOSE_SPIRAL = _SpiralShape(
    pitch_degrees=(18.0, 32.0),
    bulge_fraction=(0.04, 0.2),
    arm_fraction=(0.35, 0.6),
    bar_length=None,
    knots=(2, 9),
)


def _render_spiral(
    shape: _SpiralShape, scene: _Scene, rng: np.random.Generator, centre: Point, angle: float
) -> None:
    """A spiral at a random inclination: bulge, smooth disk, two arms (from the bar ends if barred), knots."""
    pose = _Pose(centre, angle, _uniform(rng, (0.45, 1.0)))
    u, v = pose.plane(scene)
    length = _uniform(rng, (1.8, 3.4))
    scale_length = length * scene.scale
    bar_length = _uniform(rng, shape.bar_length) * scale_length if shape.bar_length else 0.0
    arm_start = bar_length or _uniform(rng, (1.5, 3.0)) * scene.scale
    arms = _SpiralArms(2, _uniform(rng, shape.pitch_degrees), arm_start, int(rng.choice((-1, 1))))
    flux = _log_uniform(rng, (2e4, 9e4))
    bulge_fraction, arm_fraction = _uniform(rng, shape.bulge_fraction), _uniform(rng, shape.arm_fraction)
    disk = _sersic(u, v, 1.68 * scale_length, 1.0)
    bulge = _sersic(
        u, v * pose.axis_ratio, _uniform(rng, (1.0, 2.5)) * scene.scale, _uniform(rng, (1.5, 3.0))
    )
    scene.paint(disk, flux * (1.0 - bulge_fraction - arm_fraction), _tint(_DISK_STARS, rng))
    scene.paint(
        _unit_sum(disk * arms.brightness(u, v) + 1e-12), flux * arm_fraction, _tint(_YOUNG_STARS, rng)
    )
    scene.paint(bulge, flux * bulge_fraction, _tint(_OLD_STARS, rng))
    if bar_length:
        bar = _sersic(u, v / _uniform(rng, (0.22, 0.35)), 0.6 * bar_length, 0.5)
        scene.paint(bar, flux * _uniform(rng, (0.15, 0.3)), _tint(_OLD_STARS, rng))
    count = int(rng.integers(*shape.knots, endpoint=True))
    knot_x, knot_y = pose.to_image(*arms.knots(rng, count, 2.0 * scale_length))
    scene.paint_points(knot_x, knot_y, flux * rng.uniform(0.004, 0.015, count), _tint(_YOUNG_STARS, rng))
    scene.record(shape="spiral", axis_ratio=pose.axis_ratio, radius=length, bulge_fraction=bulge_fraction,
                 arms=arms.count, pitch_degrees=arms.pitch_degrees, bar=bool(bar_length), knots=count, flux=flux)


def _add_tidal_tail(scene: _Scene, rng: np.random.Generator, start: Point, width: float) -> None:
    """A faint curved stream leaving `start`."""
    pivot = _offset(start, _uniform(rng, (5.0, 14.0)) * scene.scale, _random_angle(rng))
    sweep = _uniform(rng, (0.6, 1.8)) * rng.choice((-1, 1))
    scene.paint(
        _arc(scene, start, pivot, sweep, width), _log_uniform(rng, (2e3, 8e3)), _tint(_DISK_STARS, rng)
    )


def _add_tidal_bridge(
    scene: _Scene, rng: np.random.Generator, first: Point, second: Point, width: float
) -> None:
    """A faint curved stream joining `first` to `second`."""
    midpoint = ((first[0] + second[0]) / 2.0, (first[1] + second[1]) / 2.0)
    direction = math.atan2(second[1] - first[1], second[0] - first[0])
    separation = math.hypot(second[0] - first[0], second[1] - first[1])
    pivot = _offset(
        midpoint, _uniform(rng, (0.6, 2.0)) * separation, direction + rng.choice((-1, 1)) * math.pi / 2
    )
    sweep = float(
        _wrapped(
            math.atan2(second[1] - pivot[1], second[0] - pivot[0])
            - math.atan2(first[1] - pivot[1], first[0] - pivot[0])
        )
    )
    scene.paint(
        _arc(scene, first, pivot, sweep, width), _log_uniform(rng, (1e3, 6e3)), _tint(_DISK_STARS, rng)
    )


def _render_merging(scene: _Scene, rng: np.random.Generator, centre: Point, angle: float) -> None:
    """Two close or overlapping galaxies, often joined by a tidal bridge or trailing tidal tails."""
    half = _uniform(rng, (2.5, 7.5))
    half_separation = half * scene.scale
    members = (_offset(centre, half_separation, angle), _offset(centre, -half_separation, angle))
    drawn = [_add_spheroid(scene, rng, member, _random_angle(rng), _MERGER_MEMBER) for member in members]
    radius, flux = max(each[1] for each in drawn), max(each[3] for each in drawn)
    width = _uniform(rng, (0.8, 2.0)) * scene.scale
    bridge = rng.random() < 0.6
    if bridge:
        _add_tidal_bridge(scene, rng, *members, width)
    tails = 0
    for member in members:
        if rng.random() < 0.5:
            _add_tidal_tail(scene, rng, member, width)
            tails += 1
    scene.record(shape="merger", radius=radius, separation=2.0 * half, bridge=bridge, tails=tails, flux=flux)


def _render_disturbed(scene: _Scene, rng: np.random.Generator, centre: Point, angle: float) -> None:
    """An irregular galaxy: a few offset diffuse lumps, scattered blue clumps and sometimes a plume."""
    lump_size = _uniform(rng, (3.0, 5.5))
    size = lump_size * scene.scale
    flux = _log_uniform(rng, (1.5e4, 6e4))
    lump_count = int(rng.integers(2, 5))
    steps = np.cumsum(rng.normal(0.0, 1.1 * size, (lump_count, 2)), axis=0)
    lump_centres = steps - steps.mean(axis=0) + np.asarray(centre)
    for (x, y), share in zip(lump_centres, rng.dirichlet(np.ones(lump_count)), strict=True):
        u, v = _Pose((x, y), angle + _random_angle(rng), _uniform(rng, (0.4, 1.0))).plane(scene)
        lump = _sersic(u, v, size * _uniform(rng, (0.7, 1.5)), _uniform(rng, (0.6, 1.3)))
        scene.paint(lump, 0.8 * flux * share, _tint(_DISK_STARS, rng))
    clumps = int(rng.integers(3, 9))
    for _ in range(clumps):
        x, y = lump_centres[rng.integers(lump_count)] + rng.normal(0.0, 0.8 * size, 2)
        blob = _gaussian_blob(scene, (x, y), _uniform(rng, (0.4, 1.4)) * scene.scale)
        scene.paint(blob, flux * _uniform(rng, (0.01, 0.05)), _tint(_YOUNG_STARS, rng))
    plume = rng.random() < 0.4
    if plume:
        _add_tidal_tail(scene, rng, centre, _uniform(rng, (1.5, 3.0)) * scene.scale)
    scene.record(shape="irregular", radius=lump_size, lumps=lump_count, clumps=clumps, tails=int(plume), flux=flux)


_Renderer = Callable[[_Scene, np.random.Generator, Point, float], None]
_RENDERERS: tuple[_Renderer, ...] = (
    _render_disturbed,
    _render_merging,
    partial(_render_smooth, _ROUND_SMOOTH),
    partial(_render_smooth, _IN_BETWEEN_SMOOTH),
    partial(_render_smooth, _CIGAR_SMOOTH),
    partial(_render_spiral, _BARRED_SPIRAL),
    partial(_render_spiral, _TIGHT_SPIRAL),
    partial(_render_spiral, _LOOSE_SPIRAL),
    partial(_render_edge_on, False),
    partial(_render_edge_on, True),
)


def _add_field_sources(scene: _Scene, rng: np.random.Generator) -> None:
    """Faint stars and small background galaxies anywhere in the field, and now and then a brighter star."""
    size = scene.x.shape[0]
    count = int(rng.poisson(4.0))
    xs, ys = rng.uniform(0, size - 1, (2, count))
    is_star = rng.random(count) < 0.5
    star_colour = _tint(_FIELD_STARS, rng, spread=0.2)
    scene.paint_points(xs[is_star], ys[is_star], 10 ** rng.uniform(1.2, 2.8, count)[is_star], star_colour)
    for x, y in zip(xs[~is_star], ys[~is_star], strict=True):
        u, v = _Pose((x, y), _random_angle(rng), _uniform(rng, (0.4, 1.0))).plane(scene)
        galaxy = _sersic(u, v, _uniform(rng, (0.6, 1.5)) * scene.scale, 1.0)
        scene.paint(galaxy, _log_uniform(rng, (60, 600)), _tint(_OLD_STARS, rng))
    bright_star = rng.random() < 0.15
    if bright_star:
        x, y = rng.uniform(0, size - 1, (2, 1))
        scene.paint_points(x, y, np.array([_log_uniform(rng, (1e3, 2e4))]), star_colour)
    stars = int(is_star.sum())
    scene.record(field_stars=stars, field_galaxies=count - stars, bright_star=bright_star)


def _moffat_kernel(size: int, fwhm: float, beta: float) -> np.ndarray:
    """Unit-sum Moffat PSF centred on pixel (0, 0) with wrap-around, ready for FFT convolution."""
    offsets = np.minimum(np.arange(size), size - np.arange(size)).astype(float)
    alpha = fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))
    squared = (offsets[:, None] ** 2 + offsets[None, :] ** 2) / (alpha * alpha)
    return _unit_sum((1.0 + squared) ** -beta)


def _blur(flux: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Each channel of `flux` convolved (circularly) with `kernel`."""
    spectrum = np.fft.rfft2(flux) * np.fft.rfft2(kernel)
    return np.fft.irfft2(spectrum, s=kernel.shape)


def _asinh_stretch(flux: np.ndarray) -> np.ndarray:
    """Flux (3, H, W) to uint8 with the colour-preserving asinh stretch of survey colour cutouts.

    The mean over channels is stretched and every channel scaled with it (Lupton et al. 2004), so bright
    cores keep their colour.
    """
    intensity = flux.mean(axis=0)
    ratio = np.full_like(intensity, 1.0 / _STRETCH_SOFTENING)  # the limit of asinh(I / s) / I at I = 0
    np.divide(
        np.arcsinh(intensity / _STRETCH_SOFTENING), intensity, out=ratio, where=np.abs(intensity) > 1e-9
    )
    value = _SKY_LEVEL + _STRETCH_GAIN * flux * ratio
    return np.round(np.clip(value, 0.0, 1.0) * 255.0).astype(np.uint8)


def _observe(scene: _Scene, rng: np.random.Generator) -> np.ndarray:
    """The painted flux as a survey records it: PSF blur, sky noise, stretch; (size, size, 3) uint8."""
    kernel = _moffat_kernel(
        scene.x.shape[0], _uniform(rng, (1.0, 1.8)) * scene.scale, _uniform(rng, (2.5, 4.5))
    )
    sky_residual = rng.normal(0.0, 0.15, (3, 1, 1))
    noisy = _blur(scene.flux, kernel) + sky_residual + rng.normal(0.0, 1.0, scene.flux.shape)
    return _asinh_stretch(noisy).transpose(1, 2, 0)


def draw_galaxy(label: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, Drawn]:
    """One (size, size, 3) uint8 cutout of class `label` (an index into `CLASS_NAMES`), and what it shows."""
    x, y = _pixel_grid(size)
    scene = _Scene(x, y, size / _REFERENCE_SIZE, np.zeros((3, size, size)), Drawn())
    jitter = rng.uniform(-3.0, 3.0, 2) * scene.scale
    centre = ((size - 1) / 2.0 + jitter[0], (size - 1) / 2.0 + jitter[1])
    _RENDERERS[label](scene, rng, centre, _random_angle(rng))
    _add_field_sources(scene, rng)
    return _observe(scene, rng), scene.drawn


def render_galaxy(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One (size, size, 3) uint8 cutout of class `label` (an index into `CLASS_NAMES`)."""
    return draw_galaxy(label, size, rng)[0]


def draw_images(
    sources: Sequence[Sequence[int]], images_per_class: int, size: int = 64, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[Drawn]]:
    """(images uint8 (N, size, size, 3), labels int64 (N,), what each image shows) with N = len(`sources`)
    * `images_per_class`.

    Class k is drawn from the demo classes ``sources[k]`` (indices into `CLASS_NAMES`), in turn.
    Classes are interleaved (labels = arange(N) % len(sources)) and image i is drawn from
    ``np.random.default_rng([seed, i])``, so any image can be re-rendered alone with `render_galaxy`.
    """
    count = images_per_class * len(sources)
    labels = np.arange(count, dtype=np.int64) % len(sources)
    images = np.empty((count, size, size, 3), dtype=np.uint8)
    drawn = []
    for index, label in enumerate(labels.tolist()):
        drawn_from = sources[label][(index // len(sources)) % len(sources[label])]
        images[index], shown = draw_galaxy(drawn_from, size, np.random.default_rng([seed, index]))
        drawn.append(shown)
    return images, labels, drawn


def make_images(
    sources: Sequence[Sequence[int]], images_per_class: int, size: int = 64, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`draw_images`'s images and labels."""
    images, labels, _ = draw_images(sources, images_per_class, size, seed)
    return images, labels


DEMO_SOURCES: tuple[tuple[int, ...], ...] = tuple((label,) for label in range(len(CLASS_NAMES)))


def make_demo_images(images_per_class: int, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The demo set's images and labels: every class of `CLASS_NAMES`, as `make_images` draws them."""
    return make_images(DEMO_SOURCES, images_per_class, size, seed)


def captioned(
    sources: Sequence[Sequence[int]], images_per_class: int, seed: int, name: str, class_names: tuple[str, ...]
) -> GalaxyData:
    """A synthetic set drawn as `draw_images` does at 64 px, each image captioned from what it shows."""
    images, labels, drawn = draw_images(sources, images_per_class, seed=seed)
    data = GalaxyData(ArraySource(images), labels, class_names, name)
    return data.with_captions(tuple(rendered.caption(shown) for shown in drawn))


VAL_FRACTION = TEST_FRACTION = 0.15
IMAGES_PER_CLASS = 120


def split_sizes(class_count: int, images_per_class: int) -> SplitSizes:
    """Exact split sizes of a synthetic set (the same stratified split as `load`, on labels alone)."""
    labels = np.repeat(np.arange(class_count), images_per_class)
    train, val, test = stratified_split(labels, VAL_FRACTION, TEST_FRACTION, seed=0)
    return SplitSizes(len(train), len(val), len(test))


def load(options: DataOptions) -> DatasetSplits:
    """The demo set at 64 px from seed 0, its captions written from what each image shows, split 70/15/15
    with the split seed."""
    data = captioned(DEMO_SOURCES, options.demo_images_per_class or IMAGES_PER_CLASS, 0, "demo", CLASS_NAMES)
    return split_dataset(data, VAL_FRACTION, TEST_FRACTION, options.split_seed)


DATASET = DatasetInfo(
    "demo",
    "synthetic Galaxy10-like galaxies rendered from a seed (no download)",
    load,
    sizes=lambda options: split_sizes(len(CLASS_NAMES), options.demo_images_per_class or IMAGES_PER_CLASS),
    class_names=CLASS_NAMES,
    synthetic=True,
    text="galaxy10",
    captions=rendered.SOURCE,
)
