"""Building blocks for sampling one ``motionedit-synthetic`` scene.

The scene description (:class:`Group`, :class:`Layer`, :class:`Scene`); the
:class:`SceneBuilder` that collects one sampling attempt and checks its placement (every object
inside the frame and apart from the others for all fractions in ``[-1, 1]``); random shapes; and
articulated stick figures (kinematic chains). All in normalised coordinates, see
:mod:`mebench.synthetic.geometry`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mebench.synthetic.geometry import (
    Affine, BBox, Blob, Box, Capsule, Disc, Ellipse, Op, Polygon, Shape, bounds, forward,
)

PALETTE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("red", (215, 35, 35)), ("blue", (40, 80, 230)), ("green", (35, 170, 60)),
    ("yellow", (240, 215, 35)), ("orange", (250, 135, 20)), ("purple", (140, 55, 200)),
    ("pink", (245, 115, 190)), ("cyan", (35, 205, 220)),
)
MARGIN = 0.02  # every object stays this far inside the frame for all fractions in [-1, 1]
_CHECK_FRACTIONS = (-1.0, -0.5, 0.0, 0.5, 1.0)


# ---------------------------------------------------------------- scene description
@dataclass(frozen=True)
class Group:
    """One named object (a disc, a figure...) with its colour and texture; static or moving."""

    name: str  # e.g. "red disc", "blue figure"
    colour: str
    rgb: tuple[int, int, int]
    texture_seed: int
    pattern: str  # "noise" | "stripes" | "checker"
    moving: bool


@dataclass(frozen=True)
class Layer:
    """One hard-edged part of a group, with its own motion (parts of a chain compose)."""

    group: int
    part: str
    shape: Shape
    ops: tuple[Op, ...] = ()
    shade: float = 1.0


@dataclass(frozen=True)
class Scene:
    """A full scene. ``motion`` is one of: translate, closer, farther (Locomotion/Distance);
    rotate; raise, lower (Pose/Posture); stretch, squash, widen, bend (Object State/Formation);
    reach (Subject-Object Interaction); approach (Inter-Subject Interaction)."""

    index: int
    seed: int
    category: str
    motion: str
    instruction: str
    background_seed: int
    groups: tuple[Group, ...]
    layers: tuple[Layer, ...]  # bottom to top


# ---------------------------------------------------------------- sampling one scene
class SceneBuilder:
    """Collects groups and layers while one scene is being sampled (one per attempt)."""

    def __init__(self, rng: np.random.Generator, colours: list[int]) -> None:
        self.rng, self.colours = rng, colours
        self.groups: list[Group] = []
        self.layers: list[Layer] = []

    def u(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def pick(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def add_group(self, kind: str, moving: bool) -> int:
        colour, rgb = PALETTE[self.colours[len(self.groups)]]
        pattern = self.pick(("noise", "stripes", "checker"))
        seed = int(self.rng.integers(2**63))
        self.groups.append(Group(f"{colour} {kind}", colour, rgb, seed, pattern, moving))
        return len(self.groups) - 1

    def swept_box(self, group: int, fractions: tuple[float, ...]) -> BBox:
        xs: list[float] = []
        ys: list[float] = []
        for layer in (lay for lay in self.layers if lay.group == group):
            x0, y0, x1, y1 = bounds(layer.shape)
            gx, gy = np.meshgrid(np.linspace(x0, x1, 3), np.linspace(y0, y1, 3))
            for f in fractions:
                px, py = forward(layer.ops, gx, gy, f)
                xs += [float(px.min()), float(px.max())]
                ys += [float(py.min()), float(py.max())]
        return min(xs), min(ys), max(xs), max(ys)

    def valid(self, touching: tuple[tuple[int, int], ...] = ()) -> bool:
        """All groups inside the frame for F in [-1, 1] and apart (``touching`` pairs: at F=0)."""
        boxes = [self.swept_box(g, _CHECK_FRACTIONS) for g in range(len(self.groups))]
        if any(min(b[:2]) < MARGIN or max(b[2:]) > 1 - MARGIN for b in boxes):
            return False
        for i in range(len(boxes)):
            for j in range(i):
                a, b = boxes[i], boxes[j]
                if (i, j) in touching or (j, i) in touching:
                    a, b = self.swept_box(i, (0.0,)), self.swept_box(j, (0.0,))
                if all(a[k] < b[k + 2] + MARGIN and b[k] < a[k + 2] + MARGIN for k in (0, 1)):
                    return False
        return True


# ---------------------------------------------------------------- random shapes
def _polygon(cx: float, cy: float, r: float, angle: float,
             local: tuple[tuple[float, float], ...]) -> Polygon:
    c, s = math.cos(angle), math.sin(angle)
    return Polygon(tuple((cx + r * (c * u - s * v), cy + r * (s * u + c * v)) for u, v in local))


def _star_points(points: int, inner: float) -> tuple[tuple[float, float], ...]:
    return tuple(((1.0 if k % 2 == 0 else inner) * math.cos(math.pi * k / points - math.pi / 2),
                  (1.0 if k % 2 == 0 else inner) * math.sin(math.pi * k / points - math.pi / 2))
                 for k in range(2 * points))


_ARROW = ((-1.0, -0.22), (0.25, -0.22), (0.25, -0.55), (1.0, 0.0), (0.25, 0.55), (0.25, 0.22),
          (-1.0, 0.22))


def random_shape(b: SceneBuilder, kind: str, cx: float, cy: float, r: float,
                 tilt: float = math.pi) -> Shape:
    """A ``kind`` shape of size ~``r`` centred on ``(cx, cy)``, turned by up to ``tilt``."""
    angle = b.u(-tilt, tilt)
    if kind == "disc":
        return Disc(cx, cy, r)
    if kind == "ellipse":
        return Ellipse(cx, cy, r, r * b.u(0.45, 0.7), angle)
    if kind == "box":
        return Box(cx, cy, r * b.u(0.85, 1.0), r * b.u(0.45, 0.7), angle, r * 0.12)
    if kind == "star":
        return _polygon(cx, cy, r * 1.1, angle, _star_points(5, b.u(0.45, 0.55)))
    if kind == "triangle":
        return _polygon(cx, cy, r * 1.1, angle, _star_points(3, 0.5)[::2])
    if kind == "arrow":
        return _polygon(cx, cy, r * 1.1, angle, _ARROW)
    harmonics = tuple((k, b.u(0.05, 0.12), b.u(0.0, 2 * math.pi)) for k in (2, 3, 5))
    return Blob(cx, cy, r * 0.85, harmonics)


# ---------------------------------------------------------------- figures (kinematic chains)
ArmSpec = tuple[float, float, float, float]  # degrees: alpha0, beta0, d_alpha, d_beta


def add_figure(b: SceneBuilder, group: int, cx: float, base: float, h: float,
               arms: dict[int, ArmSpec], ops: tuple[Op, ...]) -> dict[int, Layer]:
    """Add a stick figure of height ``h`` standing on ``base``; returns each side's forearm.

    Side ``+1`` is image-right, i.e. the *figure's left* (it faces the viewer). ``alpha`` is the
    upper arm's angle from hanging straight down (outward positive), ``beta`` the elbow's extra
    bend; the forearm's transform composes the elbow rotation with the upper arm's.
    """
    for s in (-1, 1):
        leg = Capsule(cx + s * 0.065 * h, base - 0.45 * h, cx + s * 0.09 * h, base - 0.06 * h,
                      0.06 * h)
        b.layers.append(Layer(group, "leg", leg, ops, 0.85))
    torso = Box(cx, base - 0.62 * h, 0.13 * h, 0.2 * h, 0.0, 0.05 * h)
    b.layers.append(Layer(group, "torso", torso, ops))
    b.layers.append(Layer(group, "head", Disc(cx, base - 0.91 * h, 0.09 * h), ops, 1.1))
    forearms: dict[int, Layer] = {}
    for s in (-1, 1):
        a0, b0, da, db = arms[s]
        sh = (cx + s * 0.15 * h, base - 0.77 * h)
        a, ab = math.radians(a0), math.radians(a0 + b0)
        el = (sh[0] + s * 0.27 * h * math.sin(a), sh[1] + 0.27 * h * math.cos(a))
        wr = (el[0] + s * 0.25 * h * math.sin(ab), el[1] + 0.25 * h * math.cos(ab))
        upper = ((Affine(sh, angle=-s * math.radians(da)),) if da else ()) + ops
        fore = ((Affine(el, angle=-s * math.radians(db)),) if db else ()) + upper
        b.layers.append(Layer(group, "upper arm", Capsule(*sh, *el, 0.075 * h), upper, 0.78))
        forearms[s] = Layer(group, "forearm", Capsule(*el, *wr, 0.07 * h), fore, 0.9)
        b.layers.append(forearms[s])
    return forearms
