"""Per-category scene sampling for the ``motionedit-synthetic`` dataset.

A scene depends only on ``(seed, index)``; the renderer scales it to any size. Coordinates,
angles and how motions scale with the fraction ``F``: :mod:`mebench.synthetic.geometry`.

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

import numpy as np

from mebench.synthetic.builder import PALETTE, Layer, Scene, SceneBuilder, add_figure, random_shape
from mebench.synthetic.geometry import (
    Affine, Bend, Capsule, Disc, Op, Shape, bounds, forward, inverse,
)

__all__ = [
    "CATEGORIES", "sample_scene",
    # re-exported for callers that import them from here (e.g. the generator tests)
    "PALETTE", "Affine", "Bend", "Scene", "forward", "inverse",
]

CATEGORIES: tuple[str, ...] = (
    "Pose/Posture", "Locomotion/Distance", "Object State/Formation",
    "Orientation/Viewpoint", "Subject-Object Interaction", "Inter-Subject Interaction",
)


# ---------------------------------------------------------------- per-category samplers
def _side_word(side: int) -> str:
    return "left" if side > 0 else "right"


Built = tuple[str, str, tuple[tuple[int, int], ...]]  # motion, instruction, touching pairs


def _pose(b: SceneBuilder) -> Built:
    g = b.add_group("figure", True)
    h, cx, base = b.u(0.34, 0.42), b.u(0.25, 0.75), b.u(0.85, 0.97)
    side = 1 if b.rng.random() < 0.5 else -1
    up = bool(b.rng.random() < 0.5)
    a0, da = (b.u(5, 25), b.u(20, 35)) if up else (b.u(95, 140), -b.u(20, 35))
    add_figure(b, g, cx, base, h, {side: (a0, b.u(0, 30), da, 0.0),
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


def _locomotion(b: SceneBuilder) -> Built:
    kind = b.pick(("disc", "box", "star", "triangle", "blob", "ellipse"))
    g = b.add_group(kind, True)
    cx, cy = b.u(0.15, 0.85), b.u(0.15, 0.85)
    shape = random_shape(b, kind, cx, cy, b.u(0.07, 0.11))
    roll, n = b.rng.random(), b.groups[g].name
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


def _state(b: SceneBuilder) -> Built:
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
        # ~upright, so that it is scaled along its own axes
        shape = random_shape(b, kind, cx, cy, b.u(0.08, 0.12), tilt=0.3)
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


def _orientation(b: SceneBuilder) -> Built:
    kind = b.pick(("box", "ellipse", "triangle", "arrow"))
    g = b.add_group(kind, True)
    cx, cy = b.u(0.15, 0.85), b.u(0.15, 0.85)
    shape = random_shape(b, kind, cx, cy, b.u(0.1, 0.14))
    angle = math.radians(b.u(20, 35)) * (1 if b.rng.random() < 0.5 else -1)
    b.layers.append(Layer(g, kind, shape, (Affine((cx, cy), angle=angle),)))
    way = "clockwise" if angle > 0 else "counterclockwise"  # y points down: angle > 0 is clockwise
    t = b.pick(("Rotate the {n} {w}.", "Turn the {n} {w}.", "Spin the {n} {w}."))
    return "rotate", t.format(n=b.groups[g].name, w=way), ()


def _reach(b: SceneBuilder) -> Built:
    ball, fig = b.add_group("ball", False), b.add_group("figure", True)
    h, cx, base = b.u(0.34, 0.42), b.u(0.25, 0.75), b.u(0.85, 0.97)
    side = 1 if b.rng.random() < 0.5 else -1
    b0 = b.u(40, 70)
    arms = {side: (b.u(5, 20), b0, b.u(25, 40), -b0 * b.u(0.6, 0.9)),
            -side: (b.u(5, 30), b.u(0, 30), 0.0, 0.0)}
    fore = add_figure(b, fig, cx, base, h, arms, ())[side]
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


def _inter(b: SceneBuilder) -> Built:
    ga, gb = b.add_group("figure", True), b.add_group("figure", True)
    for g, x, sign in ((ga, b.u(0.15, 0.38), 1.0), (gb, b.u(0.62, 0.85), -1.0)):
        h, base = b.u(0.28, 0.36), b.u(0.86, 0.97)
        move = Affine((x, base), shift=(sign * b.u(0.04, 0.07), b.u(-0.02, 0.02)))
        arms = {s: (b.u(5, 20), b.u(0, 20), 0.0, 0.0) for s in (-1, 1)}
        add_figure(b, g, x, base, h, arms, (move,))
    first, second = (ga, gb) if b.rng.random() < 0.5 else (gb, ga)
    t = b.pick(("Make the {a} and {b} figures approach each other.",
                "Make the {a} and {b} figures walk toward each other.",
                "Move the {a} figure and the {b} figure closer together."))
    return "approach", t.format(a=b.groups[first].colour, b=b.groups[second].colour), ()


_BUILDERS: tuple[Callable[[SceneBuilder], Built], ...] = (
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
        b = SceneBuilder(rng, colours)
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
            shape = random_shape(b, kind, b.u(0.1, 0.9), b.u(0.1, 0.9), b.u(0.045, 0.075))
            b.layers.append(Layer(g, kind, shape))
            if b.valid(touching):
                break
            b.groups.pop()
            b.layers.pop()
    layers = tuple(b.layers[len(main):]) + tuple(main)  # distractors at the bottom
    return Scene(index, seed, CATEGORIES[index % len(CATEGORIES)], motion, instruction,
                 int(rng.integers(2**63)), tuple(b.groups), layers)
