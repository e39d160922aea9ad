"""Rendering of synthetic scenes and their exact forward optical flow.

Layers are painted bottom to top over a static textured background (its flow is 0). Masks are
hard-edged and evaluated *analytically*: a source pixel belongs to a layer if its centre is inside
the shape; a target pixel belongs to it if its centre, mapped back through the exact inverse
motion, is inside the source shape. Object textures are analytic functions of source-frame
coordinates (sums of sinusoids), evaluated at the inverse-mapped point: no resampling, so the
target is an exact point sampling of the moved scene (up to rounding to uint8). The flow at a
source pixel ``p`` is ``T(p) - p`` for the topmost layer covering ``p``, in pixels, x first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from mebench.synthetic.builder import Layer, Scene
from mebench.synthetic.geometry import (
    BBox, Blob, Box, Capsule, Disc, Ellipse, Polygon, Shape, bounds, forward, inverse,
)
from mebench.synthetic.scenes import sample_scene

MIN_SIZE = 64
BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]
Region = tuple[slice, slice]


@dataclass(frozen=True, eq=False)
class SyntheticSample:
    """One (source, instruction, target) triplet with its exact forward flow ``[2, H, W]``."""

    id: str
    index: int
    category: str
    instruction: str
    source: Image.Image
    target: Image.Image
    flow: NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class RenderedScene:
    """Raw arrays of one rendering. Labels: index of the topmost layer per pixel, -1 = none."""

    source: NDArray[np.uint8]  # [H, W, 3]
    target: NDArray[np.uint8]
    flow: NDArray[np.float32]  # [2, H, W]
    source_labels: NDArray[np.int16]
    target_labels: NDArray[np.int16]


def check_size(size: int) -> None:
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < MIN_SIZE:
        raise ValueError(f"synthetic images need an integer size >= {MIN_SIZE} pixels, "
                         f"got {size!r}")


def shape_mask(shape: Shape, x: FloatArray, y: FloatArray) -> BoolArray:
    """Which points ``(x, y)`` (normalised coordinates) are inside ``shape``."""
    if isinstance(shape, Disc):
        return (x - shape.cx) ** 2 + (y - shape.cy) ** 2 <= shape.r**2
    if isinstance(shape, Capsule):
        vx, vy = shape.x1 - shape.x0, shape.y1 - shape.y0
        t = np.clip(((x - shape.x0) * vx + (y - shape.y0) * vy) / (vx * vx + vy * vy), 0.0, 1.0)
        return (x - shape.x0 - t * vx) ** 2 + (y - shape.y0 - t * vy) ** 2 <= shape.r**2
    if isinstance(shape, Polygon):
        inside = np.zeros(np.shape(x), dtype=bool)
        pts = shape.points
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
            if y0 == y1:
                continue
            crosses = (y0 > y) != (y1 > y)
            inside ^= crosses & (x < x0 + (y - y0) * (x1 - x0) / (y1 - y0))
        return inside
    if isinstance(shape, Blob):
        dx, dy = x - shape.cx, y - shape.cy
        theta = np.arctan2(dy, dx)
        radius = shape.r * (1.0 + sum(a * np.cos(k * theta + p) for k, a, p in shape.harmonics))
        return dx * dx + dy * dy <= radius * radius
    c, s = math.cos(shape.angle), math.sin(shape.angle)
    u, v = c * (x - shape.cx) + s * (y - shape.cy), -s * (x - shape.cx) + c * (y - shape.cy)
    if isinstance(shape, Ellipse):
        return (u / shape.a) ** 2 + (v / shape.b) ** 2 <= 1.0
    assert isinstance(shape, Box)
    qx, qy = np.abs(u) - (shape.hw - shape.radius), np.abs(v) - (shape.hh - shape.radius)
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    return outside + np.minimum(np.maximum(qx, qy), 0.0) <= shape.radius


def _region(box: BBox, size: int) -> Region | None:
    """Pixel rows/columns whose centres may fall in a normalised box (2 px of slack)."""
    x0 = max(int(math.floor(box[0] * size - 0.5)) - 2, 0)
    y0 = max(int(math.floor(box[1] * size - 0.5)) - 2, 0)
    x1 = min(int(math.ceil(box[2] * size - 0.5)) + 3, size)
    y1 = min(int(math.ceil(box[3] * size - 0.5)) + 3, size)
    return (slice(y0, y1), slice(x0, x1)) if x1 > x0 and y1 > y0 else None


def _centres(region: Region, size: int) -> tuple[FloatArray, FloatArray]:
    xs = (np.arange(region[1].start, region[1].stop, dtype=np.float64) + 0.5) / size
    ys = (np.arange(region[0].start, region[0].stop, dtype=np.float64) + 0.5) / size
    gx, gy = np.meshgrid(xs, ys)
    return gx, gy


def _noise(rng: np.random.Generator, size: int, grids: tuple[int, ...],
           weights: tuple[float, ...], channels: int) -> NDArray[np.float32]:
    """Smooth multi-scale noise of unit-ish amplitude: random grids, coarse ones upsampled to the
    finest grid and summed there, then the sum upsampled bicubically to ``size``."""
    fine = grids[-1]
    acc = np.zeros((fine, fine, channels), dtype=np.float32)
    for grid, weight in zip(grids, weights):
        small = rng.standard_normal((grid, grid, channels)).astype(np.float32)
        if grid != fine:
            small = cv2.resize(small, (fine, fine), interpolation=cv2.INTER_CUBIC)
        acc += np.float32(weight) * small.reshape(fine, fine, channels)
    acc *= np.float32(1.0 / math.sqrt(sum(w * w for w in weights)))
    up = cv2.resize(acc, (size, size), interpolation=cv2.INTER_CUBIC)
    return up.reshape(size, size, channels)


def background(seed: int, size: int) -> NDArray[np.float32]:
    """A static, colourful, strongly textured background with some hard-edged features."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(80.0, 160.0, 3).astype(np.float32)
    grids, weights = (3, 6, 12, 24, 48), (1.0, 0.8, 0.7, 0.7, 0.6)
    lum = 25.0 * _noise(rng, size, grids, weights, 1)
    img = base + lum + 16.0 * _noise(rng, size, grids, weights, 3)
    for _ in range(int(rng.integers(12, 20))):
        kind, cx, cy = int(rng.integers(4)), float(rng.uniform(0, 1)), float(rng.uniform(0, 1))
        r, angle = float(rng.uniform(0.015, 0.06)), float(rng.uniform(-math.pi, math.pi))
        colour = (0.55 * rng.uniform(0, 255, 3) + 0.45 * base).astype(np.float32)
        alpha = np.float32(rng.uniform(0.5, 0.85))
        shape: Shape
        if kind == 0:
            shape = Disc(cx, cy, r)
        elif kind == 1:
            shape = Box(cx, cy, r, r * float(rng.uniform(0.3, 1.0)), angle, 0.0)
        elif kind == 2:
            dx, dy = 2.5 * r * math.cos(angle), 2.5 * r * math.sin(angle)
            shape = Capsule(cx - dx, cy - dy, cx + dx, cy + dy, r * 0.15)
        else:
            shape = Polygon(tuple((cx + r * math.cos(angle + 2.1 * k),
                                   cy + r * math.sin(angle + 2.1 * k)) for k in range(3)))
        region = _region(bounds(shape), size)
        if region is None:
            continue
        m = shape_mask(shape, *_centres(region, size))
        patch = img[region]
        patch[m] = (1 - alpha) * patch[m] + alpha * colour
    return img


@dataclass(frozen=True, eq=False)
class Texture:
    """An object's texture as an analytic function of normalised source-frame coordinates: its
    colour times (1 + a sum of random sinusoids) times a soft pattern, plus a low-frequency
    colour tint. Being analytic, the target samples it exactly at the inverse-mapped points."""

    rgb: NDArray[np.float64]  # [3]
    freqs: NDArray[np.float64]  # [2, K] radians per unit, luminance and tint waves together
    phases: NDArray[np.float64]  # [K]
    weights: NDArray[np.float64]  # [K, 4]: luminance, then the R, G, B tints
    pattern: str  # "noise" | "stripes" | "checker"
    pattern_freq: tuple[float, float]

    def __call__(self, x: FloatArray, y: FloatArray) -> NDArray[np.float32]:
        """RGB values ``[N, 3]`` at points ``x, y`` (1-D, normalised coordinates)."""
        phase = (np.stack([x, y], 1) @ self.freqs + self.phases).astype(np.float32)
        waves = np.sin(phase).astype(np.float64) @ self.weights  # float32 sin: ~30x faster
        lum = 1.0 + waves[:, 0]
        u = (x * self.pattern_freq[0] + y * self.pattern_freq[1]).astype(np.float32)
        if self.pattern == "stripes":
            lum *= 1.0 + 0.16 * np.sin(u)
        elif self.pattern == "checker":
            v = (-x * self.pattern_freq[1] + y * self.pattern_freq[0]).astype(np.float32)
            lum *= 1.0 + 0.14 * np.tanh(2.5 * np.sin(u) * np.sin(v))
        return (lum[:, None] * self.rgb + waves[:, 1:]).astype(np.float32)


def make_texture(rgb: tuple[int, int, int], seed: int, pattern: str, waves: int = 40,
                 tint_waves: int = 4) -> Texture:
    """The texture of a group: ``waves`` luminance sinusoids with periods from 1/24 to 1/2 of the
    image (size-independent), ``tint_waves`` slower ones per colour channel, a soft pattern."""
    rng = np.random.default_rng(seed)
    cycles = np.concatenate([np.exp(rng.uniform(math.log(2.0), math.log(24.0), waves)),
                             rng.uniform(1.5, 8.0, 3 * tint_waves)])
    theta = rng.uniform(0.0, 2 * math.pi, cycles.size)
    freqs = 2 * math.pi * cycles * np.stack([np.cos(theta), np.sin(theta)])
    weights = np.zeros((cycles.size, 4))
    weights[:waves, 0] = 0.32 * math.sqrt(2.0 / waves)  # luminance std ~0.32
    for c in range(3):
        weights[waves + c * tint_waves:waves + (c + 1) * tint_waves, c + 1] = 4.0
    phi, period = rng.uniform(0.0, math.pi), rng.uniform(0.05, 0.08)
    k = 2 * math.pi / period
    return Texture(np.asarray(rgb, dtype=np.float64), freqs,
                   rng.uniform(0.0, 2 * math.pi, cycles.size), weights, pattern,
                   (k * math.cos(phi), k * math.sin(phi)))


Painted = tuple[Region, BoolArray, NDArray[np.float32]]  # where a layer was drawn, its colours


def _paint(layer: Layer, tex: Texture, region: Region | None, x: FloatArray, y: FloatArray,
           index: int, img: NDArray[np.float32], labels: NDArray[np.int16]) -> Painted | None:
    """Draw ``layer`` on ``region`` whose pixel centres come from source points ``(x, y)``."""
    if region is None:
        return None
    m = shape_mask(layer.shape, x, y)
    values = tex(x[m], y[m]) * np.float32(layer.shade)
    img[region][m] = values
    labels[region][m] = index
    return region, m, values


def _moved_region(layer: Layer, fraction: float, size: int) -> Region | None:
    x0, y0, x1, y1 = bounds(layer.shape)
    gx, gy = np.meshgrid(np.linspace(x0, x1, 9), np.linspace(y0, y1, 9))
    px, py = forward(layer.ops, gx, gy, fraction)
    return _region((float(px.min()), float(py.min()), float(px.max()), float(py.max())), size)


def _to_uint8(img: NDArray[np.float32]) -> NDArray[np.uint8]:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def render_scene(scene: Scene, size: int = 256, fraction: float = 1.0) -> RenderedScene:
    """Render ``scene`` at ``size`` with every motion scaled by ``fraction``."""
    check_size(size)
    fraction = float(fraction)
    if not math.isfinite(fraction):
        raise ValueError(f"fraction must be finite, got {fraction}")
    src = background(scene.background_seed, size)
    tgt = src.copy()
    textures = [make_texture(g.rgb, g.texture_seed, g.pattern) for g in scene.groups]
    flow = np.zeros((2, size, size), dtype=np.float32)
    src_labels = np.full((size, size), -1, dtype=np.int16)
    tgt_labels = src_labels.copy()
    painted: list[Painted | None] = []
    for i, layer in enumerate(scene.layers):
        region = _region(bounds(layer.shape), size)
        x, y = _centres(region, size) if region else (np.zeros((0, 0)), np.zeros((0, 0)))
        done = _paint(layer, textures[layer.group], region, x, y, i, src, src_labels)
        painted.append(done)
        if done is None:
            continue
        m = done[1]
        fx, fy = forward(layer.ops, x, y, fraction) if layer.ops else (x, y)
        flow[0][done[0]][m] = ((fx - x) * size)[m]  # overwrites what lies below: top layer wins
        flow[1][done[0]][m] = ((fy - y) * size)[m]
    if fraction == 0.0:  # exactly the source, by construction
        source = _to_uint8(src)
        return RenderedScene(source, source.copy(), flow, src_labels, src_labels.copy())
    for i, layer in enumerate(scene.layers):
        done = painted[i]
        if not layer.ops and done is not None:  # a static layer looks the same in the target
            tgt[done[0]][done[1]] = done[2]
            tgt_labels[done[0]][done[1]] = i
        elif layer.ops:
            region = _moved_region(layer, fraction, size)
            if region is not None:
                sx, sy = inverse(layer.ops, *_centres(region, size), fraction)
                _paint(layer, textures[layer.group], region, sx, sy, i, tgt, tgt_labels)
    return RenderedScene(_to_uint8(src), _to_uint8(tgt), flow, src_labels, tgt_labels)


def generate_sample(index: int, *, seed: int = 0, size: int = 256,
                    fraction: float = 1.0) -> SyntheticSample:
    """Sample ``index`` of the dataset ``seed``, its motion scaled by ``fraction``."""
    check_size(size)
    scene = sample_scene(index, seed)
    out = render_scene(scene, size, fraction)
    return SyntheticSample(f"syn-{index:04d}", index, scene.category, scene.instruction,
                           Image.fromarray(out.source), Image.fromarray(out.target), out.flow)


def generate(num_samples: int = 60, *, seed: int = 0, size: int = 256) -> list[SyntheticSample]:
    """The first ``num_samples`` samples (sample ``i`` is the same whatever ``num_samples``)."""
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    check_size(size)
    return [generate_sample(i, seed=seed, size=size) for i in range(num_samples)]
