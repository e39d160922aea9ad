"""Optical-flow pictures with the Middlebury colour coding (Baker et al., "A Database and Evaluation
Methodology for Optical Flow", IJCV 2011; the colour wheel of their ``colorcode.cpp``).

Hue is the direction, saturation the length: white is no motion, and at full length flow to the
right is red, down yellow, left cyan and up blue-violet (image coordinates, y down). Lengths are
divided by ``max_flow`` (default: the largest length in the flow); longer vectors are drawn
darkened (x 0.75), as in the reference code. Pixels with a non-finite flow are black.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

# Segment lengths of the colour wheel: red-yellow, yellow-green, green-cyan, cyan-blue,
# blue-magenta, magenta-red (chosen by Baker et al. to be perceptually even).
_SEGMENTS = (("RY", 15), ("YG", 6), ("GC", 4), ("CB", 11), ("BM", 13), ("MR", 6))


def colour_wheel() -> NDArray[np.float64]:
    """The 55 x 3 RGB colour wheel (0-255) of Baker et al."""
    ry, yg, gc, cb, bm, mr = (n for _, n in _SEGMENTS)
    wheel = np.zeros((ry + yg + gc + cb + bm + mr, 3))
    col = 0
    wheel[col:col + ry, 0] = 255
    wheel[col:col + ry, 1] = np.floor(255 * np.arange(ry) / ry)
    col += ry
    wheel[col:col + yg, 0] = 255 - np.floor(255 * np.arange(yg) / yg)
    wheel[col:col + yg, 1] = 255
    col += yg
    wheel[col:col + gc, 1] = 255
    wheel[col:col + gc, 2] = np.floor(255 * np.arange(gc) / gc)
    col += gc
    wheel[col:col + cb, 1] = 255 - np.floor(255 * np.arange(cb) / cb)
    wheel[col:col + cb, 2] = 255
    col += cb
    wheel[col:col + bm, 2] = 255
    wheel[col:col + bm, 0] = np.floor(255 * np.arange(bm) / bm)
    col += bm
    wheel[col:col + mr, 2] = 255 - np.floor(255 * np.arange(mr) / mr)
    wheel[col:col + mr, 0] = 255
    return wheel


def flow_to_colour(flow: NDArray[np.floating], max_flow: float | None = None) -> NDArray[np.uint8]:
    """``[2, H, W]`` flow in pixels (x first) -> ``[H, W, 3]`` uint8 RGB picture."""
    if flow.ndim != 3 or flow.shape[0] != 2:
        raise ValueError(f"expected a [2, H, W] flow, got shape {flow.shape}")
    u = flow[0].astype(np.float64)
    v = flow[1].astype(np.float64)
    bad = ~(np.isfinite(u) & np.isfinite(v))
    u = np.where(bad, 0.0, u)
    v = np.where(bad, 0.0, v)
    rad = np.sqrt(u * u + v * v)
    scale = float(rad.max()) if max_flow is None else float(max_flow)
    if scale <= 0:
        if max_flow is not None:
            raise ValueError(f"max_flow must be positive, got {max_flow}")
        scale = 1.0
    u, v, rad = u / scale, v / scale, rad / scale

    wheel = colour_wheel()
    ncols = wheel.shape[0]
    angle = np.arctan2(-v, -u) / np.pi  # -1..1; note -0.0 for v == 0, as in the C code
    fk = (angle + 1) / 2 * (ncols - 1)
    k0 = np.floor(fk).astype(int)
    k1 = (k0 + 1) % ncols
    f = (fk - k0)[..., None]
    col = ((1 - f) * wheel[k0] + f * wheel[k1]) / 255
    inside = (rad <= 1)[..., None]
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * 0.75)
    out = np.floor(255 * col).astype(np.uint8)
    out[bad] = 0
    return out


def save_flow_png(flow: NDArray[np.floating], path: Path, max_flow: float | None = None) -> None:
    """Write :func:`flow_to_colour` of ``flow`` as a PNG, atomically."""
    from PIL import Image

    from mebench.images import save_png_atomic

    save_png_atomic(Image.fromarray(flow_to_colour(flow, max_flow)), path)
