"""Tests of the embedded ``motionedit-synthetic`` generator (mebench.synthetic)."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from mebench.synthetic import (
    CATEGORIES, RenderedScene, Scene, SyntheticSample, generate, generate_sample, render_scene,
    sample_scene,
)
from mebench.synthetic.scenes import Affine, Bend, forward, inverse


def _first(motion: str, start: int = 0) -> int:
    """The first sample index whose scene has this motion."""
    return next(i for i in range(start, 600) if sample_scene(i).motion == motion)


def _moving_mask(scene: Scene, r: RenderedScene) -> NDArray[np.bool_]:
    moving = [i for i, lay in enumerate(scene.layers) if lay.ops]
    return np.isin(r.source_labels, moving)


def _warp_back(r: RenderedScene, flow: NDArray[np.float32], erode: int
               ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """source_hat(p) = target(p + flow(p)), and where that is meaningful: the same layer is
    visible at p in the source and at p + flow(p) in the target, ``erode`` px from its edges."""
    size = r.source.shape[0]
    gx, gy = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    mx, my = gx + flow[0], gy + flow[1]
    back = cv2.remap(r.target.astype(np.float32), mx, my, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
    kernel = np.ones((2 * erode + 1, 2 * erode + 1), np.uint8)
    valid = np.zeros((size, size), dtype=bool)
    for label in np.unique(r.source_labels):
        in_src = cv2.erode((r.source_labels == label).astype(np.uint8), kernel).astype(bool)
        in_tgt = cv2.erode((r.target_labels == label).astype(np.uint8), kernel)
        lands = cv2.remap(in_tgt.astype(np.float32), mx, my, cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0) > 0.5
        valid |= in_src & lands
    err = np.abs(back - r.source.astype(np.float32)).mean(-1)
    return err, valid


# ---------------------------------------------------------------- determinism and API
def test_deterministic_and_independent_of_batch() -> None:
    a, b = generate_sample(7, seed=3, size=128), generate_sample(7, seed=3, size=128)
    assert a.source.tobytes() == b.source.tobytes() and a.target.tobytes() == b.target.tobytes()
    assert np.array_equal(a.flow, b.flow)
    c = generate(8, seed=3, size=128)[7]
    assert c.source.tobytes() == a.source.tobytes() and np.array_equal(c.flow, a.flow)
    assert c.instruction == a.instruction and c.id == "syn-0007" and c.index == 7
    other = generate_sample(7, seed=4, size=128)
    assert other.source.tobytes() != a.source.tobytes()


def test_categories_ids_and_instructions() -> None:
    samples = generate(60, size=64)
    assert [s.id for s in samples] == [f"syn-{i:04d}" for i in range(60)]
    assert Counter(s.category for s in samples) == {c: 10 for c in CATEGORIES}
    for s in samples:
        assert isinstance(s, SyntheticSample) and s.category == CATEGORIES[s.index % 6]
        assert s.source.mode == "RGB" and s.target.mode == "RGB" and s.source.size == (64, 64)
        scene = sample_scene(s.index)
        assert s.instruction == scene.instruction and s.instruction.endswith(".")
        named = [g.colour for g in scene.groups if g.moving]
        if scene.motion == "reach":
            named += [g.colour for g in scene.groups if g.name.endswith("ball")]
        assert named and all(colour in s.instruction for colour in named), s.instruction
    assert len({s.instruction for s in samples}) > 40


def test_sizes() -> None:
    for size in (64, 512):
        s = generate_sample(5, size=size)
        assert s.source.size == s.target.size == (size, size)
        assert s.flow.shape == (2, size, size) and s.flow.dtype == np.float32
    for bad in (63, 32, 0):
        with pytest.raises(ValueError, match=">= 64"):
            generate_sample(0, size=bad)
    with pytest.raises(ValueError, match=">= 64"):
        generate(3, size=48)


def test_flow_scales_with_size() -> None:
    """The scene is resolution independent: flow in pixels scales with the image size."""
    i = _first("rotate")
    scene = sample_scene(i)
    small, large = render_scene(scene, 128), render_scene(scene, 256)
    mean_small = small.flow[:, _moving_mask(scene, small)].mean(1)
    mean_large = large.flow[:, _moving_mask(scene, large)].mean(1)
    assert np.allclose(2 * mean_small, mean_large, rtol=0.05, atol=0.2)


# ---------------------------------------------------------------- flow
def test_flow_zero_on_background_and_static_objects() -> None:
    for i in range(6):
        scene = sample_scene(i)
        r = render_scene(scene, 256)
        assert r.flow.dtype == np.float32 and r.flow.shape == (2, 256, 256)
        objects = cv2.dilate((r.source_labels >= 0).astype(np.uint8), np.ones((9, 9), np.uint8))
        assert np.all(r.flow[:, objects == 0] == 0.0)
        static = [k for k, lay in enumerate(scene.layers) if not lay.ops]
        assert np.all(r.flow[:, np.isin(r.source_labels, static)] == 0.0)
        moving = _moving_mask(scene, r)
        assert moving.sum() > 50
        assert np.hypot(*r.flow[:, moving]).mean() > 2.0


def test_objects_stay_inside_frame() -> None:
    for i in range(60):
        r = render_scene(sample_scene(i), 64)
        for labels in (r.source_labels, r.target_labels):
            border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
            assert np.all(border == -1), i


def test_forward_and_inverse_are_exact_inverses() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, 500), rng.uniform(0, 1, 500)
    ops = (Affine((0.4, 0.6), angle=0.7, scale=(1.3, 0.8), shift=(0.05, -0.02)),
           Bend(0.8, 0.3, -0.09), Affine((0.5, 0.5), angle=-0.4, shift=(0.01, 0.03)))
    for f in (-1.0, 0.37, 1.0, 1.6):
        fx, fy = forward(ops, x, y, f)
        assert np.abs(np.hypot(fx - x, fy - y)).max() > 0.01
        bx, by = inverse(ops, fx, fy, f)
        assert np.allclose(bx, x, atol=1e-12) and np.allclose(by, y, atol=1e-12)
    # fraction semantics of a single affine op: angle * F, scale ** F, shift * F
    op = Affine((0.5, 0.5), angle=0.6, scale=(1.44, 1.44), shift=(0.1, 0.0))
    px, py = forward((op,), np.array([0.6]), np.array([0.5]), 0.5)
    r = 0.1 * 1.2
    assert np.allclose([px[0], py[0]], [0.5 + 0.05 + r * np.cos(0.3), 0.5 + r * np.sin(0.3)])


def test_flow_is_the_top_layers_motion() -> None:
    for i in (0, 4, 5):  # figures: arms over torsos, parts of a kinematic chain
        scene = sample_scene(i)
        r = render_scene(scene, 128, 0.8)
        ys, xs = np.nonzero(r.source_labels >= 0)
        for k, layer in enumerate(scene.layers):
            sel = r.source_labels[ys, xs] == k
            x, y = (xs[sel] + 0.5) / 128, (ys[sel] + 0.5) / 128
            fx, fy = forward(layer.ops, x, y, 0.8)
            assert np.allclose(r.flow[0, ys[sel], xs[sel]], (fx - x) * 128, atol=1e-3)
            assert np.allclose(r.flow[1, ys[sel], xs[sel]], (fy - y) * 128, atol=1e-3)
        parts = {lay.part for k, lay in enumerate(scene.layers) if lay.ops and k in r.source_labels}
        assert "forearm" in parts


@pytest.mark.parametrize("size", [256, 128])
@pytest.mark.parametrize("category", range(6))
def test_warp_back_with_exact_flow_reproduces_source(category: int, size: int) -> None:
    for i in (category, category + 6):
        scene = sample_scene(i)
        r = render_scene(scene, size)
        err, valid = _warp_back(r, r.flow, erode=1 if size < 256 else 2)
        moving = valid & _moving_mask(scene, r)
        assert moving.sum() >= 20
        assert err[valid].mean() < 0.5
        assert err[moving].mean() < (1.5 if size == 256 else 3.0), (i, scene.motion)
        if size == 256:  # the check has teeth: half a pixel off is clearly worse
            wrong = r.flow + np.where(_moving_mask(scene, r), 0.5, 0.0).astype(np.float32)
            err_wrong, _ = _warp_back(r, wrong, erode=2)
            assert err_wrong[moving].mean() > 1.5 * err[moving].mean() + 0.3


# ---------------------------------------------------------------- fraction
@pytest.mark.parametrize("category", range(6))
def test_fraction_zero_is_identity(category: int) -> None:
    s = generate_sample(category, size=128, fraction=0.0)
    assert s.target.tobytes() == s.source.tobytes()
    assert not np.any(s.flow)


def test_fraction_default_and_source_unchanged() -> None:
    i = _first("reach")
    full, default = generate_sample(i, size=128, fraction=1.0), generate_sample(i, size=128)
    assert full.target.tobytes() == default.target.tobytes()
    assert np.array_equal(full.flow, default.flow)
    part = generate_sample(i, size=128, fraction=0.3)
    assert part.source.tobytes() == full.source.tobytes()
    assert part.instruction == full.instruction
    assert part.target.tobytes() != full.target.tobytes()


def test_fraction_scales_translation_exactly() -> None:
    i = _first("translate")
    scene = sample_scene(i)
    one, half, minus = (render_scene(scene, 256, f) for f in (1.0, 0.5, -1.0))
    moving = _moving_mask(scene, one)
    assert np.allclose(half.flow[:, moving], 0.5 * one.flow[:, moving], atol=1e-3)
    assert np.allclose(minus.flow[:, moving], -one.flow[:, moving], atol=1e-3)
    op = scene.layers[int(one.source_labels[moving][0])].ops[0]
    assert isinstance(op, Affine)
    assert np.allclose(one.flow[:, moving].mean(1), np.array(op.shift) * 256, atol=1e-3)


@pytest.mark.parametrize("category", range(6))
def test_fraction_half_roughly_halves_motion(category: int) -> None:
    scene = sample_scene(category)
    one, half = render_scene(scene, 128, 1.0), render_scene(scene, 128, 0.5)
    moving = _moving_mask(scene, one)
    ratio = np.hypot(*half.flow[:, moving]).mean() / np.hypot(*one.flow[:, moving]).mean()
    assert 0.4 < ratio < 0.6, (scene.motion, ratio)


# ---------------------------------------------------------------- instruction semantics
def _mean_flow_and_curl(scene: Scene, r: RenderedScene, centre: tuple[float, float]
                        ) -> tuple[NDArray[np.float32], float, float]:
    size = r.flow.shape[1]
    ys, xs = np.nonzero(_moving_mask(scene, r))
    fx, fy = r.flow[0, ys, xs], r.flow[1, ys, xs]
    dx, dy = xs + 0.5 - centre[0] * size, ys + 0.5 - centre[1] * size
    return np.array([fx.mean(), fy.mean()]), float((dx * fy - dy * fx).mean()), \
        float((dx * fx + dy * fy).mean())


def test_instructions_match_the_motion() -> None:
    checked: Counter[str] = Counter()
    for i in range(120):
        scene = sample_scene(i)
        r = render_scene(scene, 64)
        op = next(lay.ops[0] for lay in scene.layers if lay.ops)
        centre = op.pivot if isinstance(op, Affine) else (0.5, 0.5)
        mean, curl, div = _mean_flow_and_curl(scene, r, centre)
        text = scene.instruction
        if scene.motion == "translate":
            assert ("left" in text) == (mean[0] < -1) and ("right" in text) == (mean[0] > 1), text
            assert ("up" in text) == (mean[1] < -1) and ("down" in text) == (mean[1] > 1), text
        elif scene.motion == "rotate":
            assert (curl > 0) == ("counterclockwise" not in text), text  # y points down
        elif scene.motion in ("raise", "lower"):  # the figure faces us: its left is image-right
            assert (mean[1] < -0.5) if scene.motion == "raise" else (mean[1] > 0.5), text
            torso = next(lay.shape for lay in scene.layers if lay.part == "torso")
            arm_x = np.nonzero(_moving_mask(scene, r))[1].mean() + 0.5
            assert (arm_x > torso.cx * 64) == ("left arm" in text), text  # type: ignore[union-attr]
        elif scene.motion == "stretch":
            assert mean[1] < -0.5, text
        elif scene.motion in ("closer", "farther"):
            assert (div > 0) == (scene.motion == "closer"), text
        checked[scene.motion] += 1
    assert {"translate", "rotate", "raise", "lower", "stretch", "closer"} <= set(checked)


# ---------------------------------------------------------------- trackability
def test_dis_tracks_translated_objects() -> None:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    results = []
    for i in range(1, 120, 6):
        scene = sample_scene(i)
        if scene.motion != "translate":
            continue
        r = render_scene(scene, 256)
        grey = [cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) for im in (r.source, r.target)]
        est = dis.calc(grey[0], grey[1], None)
        inner = cv2.erode(_moving_mask(scene, r).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        exact = r.flow[:, inner]
        diff = np.abs(np.median(est[inner], 0) - np.median(exact, 1)).max()
        results.append(diff < 1.5)
    assert len(results) >= 8
    assert sum(results) >= 0.7 * len(results), results
