"""Shapes and motions of the ``motionedit-synthetic`` dataset, in normalised image coordinates.

Coordinates: ``x`` (column) and ``y`` (row, pointing down) in ``[0, 1]``; pixel ``j`` of an image
of side ``S`` has its centre at ``(j + 0.5) / S``, so the renderer can scale a scene to any size.

Angles are in radians and positive angles turn *clockwise on screen* (because ``y`` points down).
A motion is a tuple of elementary ops applied in order (source frame first); at fraction ``F``
every op is scaled: translation ``* F``, angle ``* F``, scale ``s -> s ** F``, bend ``* F``.
:func:`forward` and :func:`inverse` map points exactly through such a motion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

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
