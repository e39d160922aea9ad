"""Scene description and parameter sampling for the ``motionedit-synthetic`` dataset.

Everything here lives in *normalised* image coordinates: ``x`` (column) and ``y`` (row, pointing
down) in ``[0, 1]``; pixel ``j`` of an image of side ``S`` has its centre at ``(j + 0.5) / S``.
A scene depends only on ``(seed, index)``; the renderer scales it to any size.

Angles are in radians and positive angles turn *clockwise on screen* (because ``y`` points down).
A motion is a tuple of elementary ops applied in order (source frame first); at fraction ``F``
every op is scaled: translation ``* F``, angle ``* F``, scale ``s -> s ** F``, bend ``* F``.

Motions per category (sizes as fractions of the image side; kept moderate so that classical
estimators such as OpenCV DIS can still follow them -- DIS loses objects moving more than ~20 px
at 256 px and rotations beyond ~30 degrees):
  Locomotion/Distance: translate 4-8% in one of 8 named directions, or closer (scale 1.25-1.45)
    / farther (scale 0.65-0.8) about the centre with a small vertical shift.
  Orientation/Viewpoint: rotate 20-35 degrees about the centre (clockwise / counterclockwise).
  Pose/Posture: a stick figure raises or lowers one arm 20-35 degrees about the shoulder; the
    forearm follows (kinematic chain). "left" means the figure's left (image right).
  Object State/Formation: stretch up (sy 1.3-1.6) or squash about the base, widen about the
    centre, or bend a column sideways (its top moves 7-12%).
  Subject-Object Interaction: shoulder 25-40 degrees plus elbow straightening, ending next to a
    static ball. Inter-Subject Interaction: two figures each move 4-7% toward each other.
Objects stay inside the frame for all fractions in [-1, 1] and distinct objects never overlap
(the reaching hand stops just short of its ball).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

CATEGORIES: tuple[str, ...] = (
    "Pose/Posture", "Locomotion/Distance", "Object State/Formation",
    "Orientation/Viewpoint", "Subject-Object Interaction", "Inter-Subject Interaction",
)
PALETTE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("red", (215, 35, 35)), ("blue", (40, 80, 230)), ("green", (35, 170, 60)),
    ("yellow", (240, 215, 35)), ("orange", (250, 135, 20)), ("purple", (140, 55, 200)),
    ("pink", (245, 115, 190)), ("cyan", (35, 205, 220)),
)
MARGIN = 0.02  # every object stays this far inside the frame for all fractions in [-1, 1]
_CHECK_FRACTIONS = (-1.0, -0.5, 0.0, 0.5, 1.0)
FloatArray = NDArray[np.float64]
Points = tuple[FloatArray, FloatArray]
BBox = tuple[float, float, float, float]  # x0, y0, x1, y1


# ---------------------------------------------------------------- shapes (hard-edged masks)
@dataclass(frozen=True)
class Disc:
    cx: float
    cy: float
    r: float


@dataclass(frozen=True)
class Ellipse:
    cx: float
    cy: float
    a: float  # semi-axis along the local x axis
    b: float
    angle: float


@dataclass(frozen=True)
class Box:  # rounded rectangle; hw/hh are the full half extents
    cx: float
    cy: float
    hw: float
    hh: float
    angle: float
    radius: float


@dataclass(frozen=True)
class Capsule:  # segment (x0, y0)-(x1, y1) thickened by r
    x0: float
    y0: float
    x1: float
    y1: float
    r: float


@dataclass(frozen=True)
class Polygon:
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Blob:  # radius r * (1 + sum amp * cos(k * theta + phase))
    cx: float
    cy: float
    r: float
    harmonics: tuple[tuple[int, float, float], ...]


Shape = Disc | Ellipse | Box | Capsule | Polygon | Blob


def bounds(shape: Shape) -> BBox:
    """A (conservative) bounding box ``(x0, y0, x1, y1)`` of the shape."""
    if isinstance(shape, Disc):
        return shape.cx - shape.r, shape.cy - shape.r, shape.cx + shape.r, shape.cy + shape.r
    if isinstance(shape, Ellipse):
        c, s = math.cos(shape.angle), math.sin(shape.angle)
        hx, hy = math.hypot(shape.a * c, shape.b * s), math.hypot(shape.a * s, shape.b * c)
        return shape.cx - hx, shape.cy - hy, shape.cx + hx, shape.cy + hy
    if isinstance(shape, Box):
        c, s = abs(math.cos(shape.angle)), abs(math.sin(shape.angle))
        hx, hy = shape.hw * c + shape.hh * s, shape.hw * s + shape.hh * c
        return shape.cx - hx, shape.cy - hy, shape.cx + hx, shape.cy + hy
    if isinstance(shape, Capsule):
        return (min(shape.x0, shape.x1) - shape.r, min(shape.y0, shape.y1) - shape.r,
                max(shape.x0, shape.x1) + shape.r, max(shape.y0, shape.y1) + shape.r)
    if isinstance(shape, Polygon):
        xs, ys = [p[0] for p in shape.points], [p[1] for p in shape.points]
        return min(xs), min(ys), max(xs), max(ys)
    extent = shape.r * (1.0 + sum(abs(h[1]) for h in shape.harmonics))
    return shape.cx - extent, shape.cy - extent, shape.cx + extent, shape.cy + extent


# ---------------------------------------------------------------- motions
@dataclass(frozen=True)
class Affine:
    """``p' = pivot + F * shift + R(F * angle) @ diag(sx ** F, sy ** F) @ (p - pivot)``."""

    pivot: tuple[float, float]
    angle: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    shift: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Bend:
    """A vertical column bending sideways: ``x' = x + F * amount * u ** 2``, ``y' = y`` with
    ``u = clip((base_y - y) / length, 0, inf)`` (the base stays put, the top moves ``amount``)."""

    base_y: float
    length: float
    amount: float


Op = Affine | Bend


def _affine_parts(op: Affine, f: float) -> tuple[float, float, float, float, float, float]:
    c, s = math.cos(op.angle * f), math.sin(op.angle * f)
    sx, sy = op.scale[0] ** f, op.scale[1] ** f
    return c, s, sx, sy, op.shift[0] * f, op.shift[1] * f


def forward(ops: tuple[Op, ...], x: FloatArray, y: FloatArray, f: float) -> Points:
    """Where source points ``(x, y)`` go at fraction ``f`` (exact, vectorised)."""
    if f == 0.0:
        return x, y
    for op in ops:
        if isinstance(op, Bend):
            u = np.maximum((op.base_y - y) / op.length, 0.0)
            x = x + f * op.amount * u * u
            continue
        c, s, sx, sy, tx, ty = _affine_parts(op, f)
        dx, dy = (x - op.pivot[0]) * sx, (y - op.pivot[1]) * sy
        x, y = op.pivot[0] + tx + c * dx - s * dy, op.pivot[1] + ty + s * dx + c * dy
    return x, y


def inverse(ops: tuple[Op, ...], x: FloatArray, y: FloatArray, f: float) -> Points:
    """The exact inverse of :func:`forward`: where target points came from in the source."""
    if f == 0.0:
        return x, y
    for op in reversed(ops):
        if isinstance(op, Bend):
            u = np.maximum((op.base_y - y) / op.length, 0.0)
            x = x - f * op.amount * u * u
            continue
        c, s, sx, sy, tx, ty = _affine_parts(op, f)
        dx, dy = x - op.pivot[0] - tx, y - op.pivot[1] - ty
        x, y = op.pivot[0] + (c * dx + s * dy) / sx, op.pivot[1] + (-s * dx + c * dy) / sy
    return x, y


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


class _Builder:
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


def _shape(b: _Builder, kind: str, cx: float, cy: float, r: float, tilt: float = math.pi) -> Shape:
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


def _figure(b: _Builder, group: int, cx: float, base: float, h: float,
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


def _side_word(side: int) -> str:
    return "left" if side > 0 else "right"


Built = tuple[str, str, tuple[tuple[int, int], ...]]  # motion, instruction, touching pairs


def _pose(b: _Builder) -> Built:
    g = b.add_group("figure", True)
    h, cx, base = b.u(0.34, 0.42), b.u(0.25, 0.75), b.u(0.85, 0.97)
    side = 1 if b.rng.random() < 0.5 else -1
    up = bool(b.rng.random() < 0.5)
    a0, da = (b.u(5, 25), b.u(20, 35)) if up else (b.u(95, 140), -b.u(20, 35))
    _figure(b, g, cx, base, h, {side: (a0, b.u(0, 30), da, 0.0),
                                -side: (b.u(5, 35), b.u(0, 30), 0.0, 0.0)}, ())
    if up:
        t = b.pick(("Raise the {n}'s {s} arm.", "Make the {n} lift its {s} arm.",
                    "Have the {n} raise its {s} arm."))
    else:
        t = b.pick(("Lower the {n}'s {s} arm.", "Make the {n} drop its {s} arm.",
                    "Have the {n} lower its {s} arm."))
    return ("raise" if up else "lower"), t.format(n=b.groups[g].name, s=_side_word(side)), ()


_DIRECTIONS = ("to the right", "down and to the right", "down", "down and to the left",
               "to the left", "up and to the left", "up", "up and to the right")


def _locomotion(b: _Builder) -> Built:
    kind = b.pick(("disc", "box", "star", "triangle", "blob", "ellipse"))
    g = b.add_group(kind, True)
    cx, cy = b.u(0.15, 0.85), b.u(0.15, 0.85)
    shape, roll, n = _shape(b, kind, cx, cy, b.u(0.07, 0.11)), b.rng.random(), b.groups[g].name
    if roll < 0.6:
        k = int(b.rng.integers(8))
        ang, d = k * math.pi / 4 + b.u(-0.09, 0.09), b.u(0.04, 0.08)
        op, motion = Affine((cx, cy), shift=(d * math.cos(ang), d * math.sin(ang))), "translate"
        t = b.pick(("Move the {n} {w}.", "Slide the {n} {w}.", "Shift the {n} {w}."))
        text = t.format(n=n, w=_DIRECTIONS[k])
    elif roll < 0.8:
        s = b.u(1.25, 1.45)
        op, motion = Affine((cx, cy), scale=(s, s), shift=(0.0, b.u(0.0, 0.03))), "closer"
        text = b.pick(("Bring the {n} closer.", "Move the {n} closer to the camera.")).format(n=n)
    else:
        s = b.u(0.65, 0.8)
        op, motion = Affine((cx, cy), scale=(s, s), shift=(0.0, -b.u(0.0, 0.03))), "farther"
        text = b.pick(("Move the {n} farther away.", "Push the {n} into the distance.")).format(n=n)
    b.layers.append(Layer(g, kind, shape, (op,)))
    return motion, text, ()


def _state(b: _Builder) -> Built:
    motion = b.pick(("stretch", "squash", "widen", "bend"))
    if motion == "bend":
        g = b.add_group("column", True)
        length, cx, base = b.u(0.26, 0.36), b.u(0.2, 0.8), b.u(0.6, 0.95)
        side = 1 if b.rng.random() < 0.5 else -1
        shape: Shape = Capsule(cx, base, cx, base - length, b.u(0.035, 0.05))
        op: Op = Bend(base, length, side * b.u(0.07, 0.12))
        t = b.pick(("Bend the {n} to the {w}.", "Make the {n} bend to the {w}.",
                    "Make the {n} curve to the {w}."))
        text = t.format(n=b.groups[g].name, w="right" if side > 0 else "left")
    else:
        kind = b.pick(("blob", "ellipse", "box", "disc"))
        g = b.add_group(kind, True)
        cx, cy = b.u(0.2, 0.8), b.u(0.2, 0.8)
        shape = _shape(b, kind, cx, cy, b.u(0.08, 0.12), tilt=0.3)  # ~upright: scaled along axes
        bottom = bounds(shape)[3]
        if motion == "stretch":
            op = Affine((cx, bottom), scale=(1.0, b.u(1.3, 1.6)))
            t = b.pick(("Stretch the {n} upward.", "Make the {n} taller."))
        elif motion == "squash":
            op = Affine((cx, bottom), scale=(b.u(1.12, 1.3), b.u(0.6, 0.78)))
            t = b.pick(("Squash the {n}.", "Flatten the {n}."))
        else:
            op = Affine((cx, cy), scale=(b.u(1.3, 1.55), 1.0))
            t = b.pick(("Stretch the {n} sideways.", "Make the {n} wider."))
        text = t.format(n=b.groups[g].name)
    b.layers.append(Layer(g, b.groups[g].name.split()[-1], shape, (op,)))
    return motion, text, ()


def _orientation(b: _Builder) -> Built:
    kind = b.pick(("box", "ellipse", "triangle", "arrow"))
    g = b.add_group(kind, True)
    cx, cy = b.u(0.15, 0.85), b.u(0.15, 0.85)
    shape = _shape(b, kind, cx, cy, b.u(0.1, 0.14))
    angle = math.radians(b.u(20, 35)) * (1 if b.rng.random() < 0.5 else -1)
    b.layers.append(Layer(g, kind, shape, (Affine((cx, cy), angle=angle),)))
    way = "clockwise" if angle > 0 else "counterclockwise"  # y points down: angle > 0 is clockwise
    t = b.pick(("Rotate the {n} {w}.", "Turn the {n} {w}.", "Spin the {n} {w}."))
    return "rotate", t.format(n=b.groups[g].name, w=way), ()


def _reach(b: _Builder) -> Built:
    ball, fig = b.add_group("ball", False), b.add_group("figure", True)
    h, cx, base = b.u(0.34, 0.42), b.u(0.25, 0.75), b.u(0.85, 0.97)
    side = 1 if b.rng.random() < 0.5 else -1
    b0 = b.u(40, 70)
    arms = {side: (b.u(5, 20), b0, b.u(25, 40), -b0 * b.u(0.6, 0.9)),
            -side: (b.u(5, 30), b.u(0, 30), 0.0, 0.0)}
    fore = _figure(b, fig, cx, base, h, arms, ())[side]
    arm = fore.shape
    assert isinstance(arm, Capsule)
    ex, ey = forward(fore.ops, np.array([arm.x0, arm.x1]), np.array([arm.y0, arm.y1]), 1.0)
    dx, dy = float(ex[1] - ex[0]), float(ey[1] - ey[0])
    norm, rb = math.hypot(dx, dy), b.u(0.035, 0.05)
    reach = arm.r + rb + 0.008
    b.layers.insert(0, Layer(ball, "ball", Disc(float(ex[1]) + dx / norm * reach,
                                                 float(ey[1]) + dy / norm * reach, rb)))
    t = b.pick(("Make the {f} reach for the {o}.", "Have the {f} reach out to the {o}.",
                "Make the {f} stretch its arm toward the {o}."))
    return "reach", t.format(f=b.groups[fig].name, o=b.groups[ball].name), ((ball, fig),)


def _inter(b: _Builder) -> Built:
    ga, gb = b.add_group("figure", True), b.add_group("figure", True)
    for g, x, sign in ((ga, b.u(0.15, 0.38), 1.0), (gb, b.u(0.62, 0.85), -1.0)):
        h, base = b.u(0.28, 0.36), b.u(0.86, 0.97)
        move = Affine((x, base), shift=(sign * b.u(0.04, 0.07), b.u(-0.02, 0.02)))
        arms = {s: (b.u(5, 20), b.u(0, 20), 0.0, 0.0) for s in (-1, 1)}
        _figure(b, g, x, base, h, arms, (move,))
    first, second = (ga, gb) if b.rng.random() < 0.5 else (gb, ga)
    t = b.pick(("Make the {a} and {b} figures approach each other.",
                "Make the {a} and {b} figures walk toward each other.",
                "Move the {a} figure and the {b} figure closer together."))
    return "approach", t.format(a=b.groups[first].colour, b=b.groups[second].colour), ()


_BUILDERS: tuple[Callable[[_Builder], Built], ...] = (
    _pose, _locomotion, _state, _orientation, _reach, _inter)  # same order as CATEGORIES
_DISTRACTOR_KINDS = ("disc", "box", "star", "triangle", "ellipse", "blob")


def sample_scene(index: int, seed: int = 0) -> Scene:
    """The scene of sample ``index``: a function of ``(seed, index)`` only."""
    if index < 0 or seed < 0:
        raise ValueError(f"index and seed must be >= 0, got index={index}, seed={seed}")
    rng = np.random.default_rng([seed, index])
    colours = [int(c) for c in rng.permutation(len(PALETTE))]
    build = _BUILDERS[index % len(CATEGORIES)]
    for _ in range(500):
        b = _Builder(rng, colours)
        motion, instruction, touching = build(b)
        if b.valid(touching):
            break
    else:  # pragma: no cover - the parameter ranges make this practically impossible
        raise RuntimeError(f"could not place the objects of synthetic sample {index}")
    main = list(b.layers)
    wanted = int(rng.integers(0, 2)) if index % 6 in (0, 4, 5) else int(rng.integers(1, 3))
    for _ in range(wanted):
        for _ in range(30):
            kind = _DISTRACTOR_KINDS[int(rng.integers(len(_DISTRACTOR_KINDS)))]
            g = b.add_group(kind, False)
            b.layers.append(Layer(g, kind, _shape(b, kind, b.u(0.1, 0.9), b.u(0.1, 0.9),
                                                  b.u(0.045, 0.075))))
            if b.valid(touching):
                break
            b.groups.pop()
            b.layers.pop()
    layers = tuple(b.layers[len(main):]) + tuple(main)  # distractors at the bottom
    return Scene(index, seed, CATEGORIES[index % len(CATEGORIES)], motion, instruction,
                 int(rng.integers(2**63)), tuple(b.groups), layers)
