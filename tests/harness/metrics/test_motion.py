"""Hand-computed checks of the motion terms, the MotionNFT reward and MAS (both variants)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mebench.metrics.motion import (
    MotionConfig,
    flow_epe,
    mas_from_terms,
    motion_alignment_score,
    motion_reward,
    motion_terms,
    normalise_flow,
    quantise_reward,
    reward_from_terms,
)

EPS, Q = 1e-6, 0.4
D_MIN = EPS**Q
CODE, PAPER = MotionConfig(), MotionConfig(variant="paper")
TOL = dict(rel=1e-10, abs=1e-12)


def uniform(vx: float, vy: float, h: int = 6, w: int = 8) -> torch.Tensor:
    """A [1, 2, H, W] float64 flow of one vector; 6x8 has diagonal 10."""
    flow = torch.empty(1, 2, h, w, dtype=torch.float64)
    flow[:, 0], flow[:, 1] = vx, vy
    return flow


def item(t: torch.Tensor) -> float:
    assert t.shape == (1,)
    return float(t[0])


def reward_of(dist: float, d_max: float = 1.0) -> float:
    return 1.0 - min(max((dist - D_MIN) / (d_max - D_MIN), 0.0), 1.0)


def mas_of(d_mag: float, d_dir: float, alpha: float = 0.7) -> float:
    d_ovl = alpha * d_mag + (1 - alpha) * d_dir
    return 100.0 * (1.0 - min(max((d_ovl - D_MIN) / (1.0 - D_MIN), 0.0), 1.0))


def paper_dir_uniform(m_pred: float, m_gt: float, cos_sign: float, n: int) -> float:
    """Paper D_dir for uniform flows: N w e / (N w + eps)."""
    cos = cos_sign * m_pred * m_gt / ((m_pred + EPS) * (m_gt + EPS))
    w = m_gt / (m_gt + EPS)
    return n * w * (1 - cos) / 2 / (n * w + EPS)


def test_normalise_flow_divides_by_diagonal() -> None:
    out = normalise_flow(uniform(3.0, 4.0))
    assert torch.allclose(out[:, 0], torch.tensor(0.3, dtype=torch.float64))
    assert torch.allclose(out[:, 1], torch.tensor(0.4, dtype=torch.float64))


@pytest.mark.parametrize("config", [CODE, PAPER], ids=["code", "paper"])
def test_identical_flows(config: MotionConfig) -> None:
    gt = uniform(3.0, 4.0)
    terms = motion_terms(gt.clone(), gt, config)
    assert item(terms.d_mag) == pytest.approx(D_MIN, **TOL)
    # paper: unit vectors v / (|v| + eps) make cos = (0.5 / 0.500001)^2, not exactly 1
    d_dir = 0.0 if config.variant == "code" else paper_dir_uniform(0.5, 0.5, 1.0, 48)
    assert item(terms.d_dir) == pytest.approx(d_dir, **TOL)
    assert item(terms.m_move) == 0.0
    assert item(terms.mean_pred) == pytest.approx(0.5, **TOL)
    assert item(terms.mean_gt) == pytest.approx(0.5, **TOL)
    reward, r_cont = motion_reward(gt.clone(), gt, config)
    assert item(reward) == 1.0 and item(r_cont) == pytest.approx(1.0, **TOL)
    assert item(motion_alignment_score(gt.clone(), gt, config)) == pytest.approx(100.0, **TOL)


def test_opposite_flows_code() -> None:
    gt = uniform(3.0, 4.0)
    terms = motion_terms(-gt, gt, CODE)
    d_mag = ((0.6 + EPS) ** Q + (0.8 + EPS) ** Q) / 2
    assert item(terms.d_mag) == pytest.approx(d_mag, **TOL)
    assert item(terms.d_dir) == pytest.approx(1.0, **TOL)
    assert item(terms.m_move) == 0.0  # max(0, 0.01 + 0.25 - 0.5)
    reward, r_cont = motion_reward(-gt, gt, CODE)
    r = reward_of(0.7 * d_mag + 0.2 * 1.0)
    assert r == pytest.approx(0.19535, abs=1e-4)
    assert item(r_cont) == pytest.approx(r, **TOL)
    assert item(reward) == pytest.approx(0.2, **TOL)
    mas = motion_alignment_score(-gt, gt, CODE)
    assert item(mas) == pytest.approx(mas_of(d_mag, 1.0), **TOL)
    assert item(mas) == pytest.approx(9.49465, abs=1e-4)


def test_opposite_flows_paper() -> None:
    gt = uniform(3.0, 4.0)
    terms = motion_terms(-gt, gt, PAPER)
    d_mag = (1.4 + EPS) ** Q
    d_dir = paper_dir_uniform(0.5, 0.5, -1.0, 48)
    assert item(terms.d_mag) == pytest.approx(d_mag, **TOL)
    assert item(terms.d_dir) == pytest.approx(d_dir, **TOL)
    assert d_dir == pytest.approx(1.0, abs=1e-5)
    assert item(terms.m_move) == 0.0
    reward, r_cont = motion_reward(-gt, gt, PAPER)  # D = 0.7 * 1.144 + 0.2 > 1
    assert item(r_cont) == 0.0 and item(reward) == 0.0
    assert item(motion_alignment_score(-gt, gt, PAPER)) == 0.0


@pytest.mark.parametrize("config", [CODE, PAPER], ids=["code", "paper"])
def test_zero_prediction(config: MotionConfig) -> None:
    gt = uniform(3.0, 4.0)
    pred = torch.zeros_like(gt)
    terms = motion_terms(pred, gt, config)
    if config.variant == "code":
        d_mag = ((0.3 + EPS) ** Q + (0.4 + EPS) ** Q) / 2
        d_dir = 0.5  # cos taken as 0 where |Vp| = 0
    else:
        d_mag = (0.7 + EPS) ** Q
        d_dir = paper_dir_uniform(0.0, 0.5, 1.0, 48)
    m_move = 0.01 + 0.5 * 0.5
    assert item(terms.d_mag) == pytest.approx(d_mag, **TOL)
    assert item(terms.d_dir) == pytest.approx(d_dir, **TOL)
    assert item(terms.m_move) == pytest.approx(m_move, **TOL)
    reward, r_cont = motion_reward(pred, gt, config)
    r = reward_of(0.7 * d_mag + 0.2 * d_dir + 0.1 * m_move)
    assert item(r_cont) == pytest.approx(r, **TOL)
    assert item(reward) == pytest.approx(round(5 * r) / 5, **TOL)
    assert item(motion_alignment_score(pred, gt, config)) == 0.0  # ratio 0 < rho_min


def radial(scale: float, n: int = 5) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(n, dtype=torch.float64),
                            torch.arange(n, dtype=torch.float64), indexing="ij")
    c = (n - 1) / 2
    return torch.stack([(xs - c) * scale, (ys - c) * scale])[None]


@pytest.mark.parametrize("config", [CODE, PAPER], ids=["code", "paper"])
def test_pure_scaling(config: MotionConfig) -> None:
    gt, pred = radial(0.5), radial(1.25)
    terms = motion_terms(pred, gt, config)
    vp, vg = pred[0].numpy() / math.sqrt(50), gt[0].numpy() / math.sqrt(50)
    d = vp - vg
    if config.variant == "code":
        d_mag = np.mean((np.abs(d) + EPS) ** Q)
        assert item(terms.d_dir) == pytest.approx(0.0, abs=1e-12)  # same directions
    else:
        d_mag = np.mean((np.abs(d).sum(0) + EPS) ** Q)
        mp, mg = np.linalg.norm(vp, axis=0), np.linalg.norm(vg, axis=0)
        cos = (vp / (mp + EPS) * (vg / (mg + EPS))).sum(0)
        w = mg / (mg.max() + EPS) * (mg > 0.002)
        d_dir = np.sum(w * (1 - cos) / 2) / (np.sum(w) + EPS)
        assert item(terms.d_dir) == pytest.approx(d_dir, **TOL)
        assert d_dir < 1e-4
    assert item(terms.d_mag) == pytest.approx(d_mag, **TOL)
    assert item(terms.m_move) == 0.0


@pytest.mark.parametrize("config", [CODE, PAPER], ids=["code", "paper"])
def test_static_ground_truth(config: MotionConfig) -> None:
    gt = torch.zeros(1, 2, 6, 8, dtype=torch.float64)
    assert item(motion_alignment_score(torch.zeros_like(gt), gt, config)) == pytest.approx(100.0)
    terms = motion_terms(torch.zeros_like(gt), gt, config)
    assert item(terms.d_dir) == 0.0  # empty mask
    moving = uniform(0.3, 0.4)  # normalised (0.03, 0.04)
    mas = item(motion_alignment_score(moving, gt, config))
    d_mag = ((0.03 + EPS) ** Q + (0.04 + EPS) ** Q) / 2 if config.variant == "code" \
        else (0.07 + EPS) ** Q
    assert mas == pytest.approx(mas_of(d_mag, 0.0), **TOL)
    assert 0.0 < mas < 100.0


@pytest.mark.parametrize("config", [CODE, PAPER], ids=["code", "paper"])
@pytest.mark.parametrize("above", [False, True], ids=["below", "above"])
def test_direction_mask_threshold(config: MotionConfig, above: bool) -> None:
    # 3x4 image: diagonal 5. All pixels gt (1, 0) px = 0.2 normalised except pixel (0, 0),
    # which moves 0.00202 or 0.00198 normalised (threshold 0.002); pred = gt except there.
    small = 0.0101 if above else 0.0099
    gt = uniform(1.0, 0.0, 3, 4)
    gt[0, 0, 0, 0] = small
    pred = gt.clone()
    pred[0, 0, 0, 0] = -small
    terms = motion_terms(pred, gt, config)
    m = small / 5
    if config.variant == "code":
        expected = 1.0 / 12 if above else 0.0
    else:
        w_big, e_big = 0.2 / (0.2 + EPS), (1 - 0.04 / (0.2 + EPS) ** 2) / 2
        num, den = 11 * w_big * e_big, 11 * w_big
        if above:
            w_small, e_small = m / (0.2 + EPS), (1 + m * m / (m + EPS) ** 2) / 2
            num, den = num + w_small * e_small, den + w_small
        expected = num / (den + EPS)
    assert item(terms.d_dir) == pytest.approx(expected, **TOL)


@pytest.mark.parametrize("config", [CODE, PAPER], ids=["code", "paper"])
def test_rho_min_boundary(config: MotionConfig) -> None:
    gt = uniform(3.0, 4.0)
    assert item(motion_alignment_score(gt * 0.0099, gt, config)) == 0.0
    terms = motion_terms(gt * 0.0101, gt, config)
    assert item(terms.mean_pred / terms.mean_gt) == pytest.approx(0.0101, **TOL)
    mas = item(motion_alignment_score(gt * 0.0101, gt, config))
    assert mas == pytest.approx(mas_of(item(terms.d_mag), item(terms.d_dir)), **TOL)
    k = 1 - 0.0101
    d_mag = ((0.3 * k + EPS) ** Q + (0.4 * k + EPS) ** Q) / 2 if config.variant == "code" \
        else (0.7 * k + EPS) ** Q
    assert item(terms.d_mag) == pytest.approx(d_mag, **TOL)
    assert mas > 20.0


def test_quantise_reward_rounding() -> None:
    r = torch.tensor([0.73, 0.69, 0.0, 1.0, 0.09, 0.11], dtype=torch.float64)
    assert quantise_reward(r, 5).tolist() == pytest.approx([0.8, 0.6, 0.0, 1.0, 0.0, 0.2])
    assert quantise_reward(torch.tensor([0.5]), 5).tolist() == pytest.approx([0.4])  # half-even
    assert quantise_reward(torch.tensor([0.74]), 2).tolist() == pytest.approx([0.5])


@pytest.mark.parametrize("target, expected", [(0.73, 0.8), (0.69, 0.6)])
def test_reward_quantisation_end_to_end(target: float, expected: float) -> None:
    gt = uniform(3.0, 4.0)
    pred = torch.zeros_like(gt)
    dist = 0.7 * ((0.3 + EPS) ** Q + (0.4 + EPS) ** Q) / 2 + 0.2 * 0.5 + 0.1 * 0.26
    config = MotionConfig(d_max=D_MIN + (dist - D_MIN) / (1 - target))
    reward, r_cont = motion_reward(pred, gt, config)
    assert item(r_cont) == pytest.approx(target, **TOL)
    assert item(reward) == pytest.approx(expected, **TOL)


@pytest.mark.parametrize("config", [CODE, PAPER], ids=["code", "paper"])
def test_batch_equals_singles_and_float32(config: MotionConfig) -> None:
    gen = torch.Generator().manual_seed(0)
    gt = torch.randn(3, 2, 16, 20, generator=gen, dtype=torch.float64) * 3
    pred = gt * torch.tensor([1.0, 0.5, -0.2], dtype=torch.float64).view(3, 1, 1, 1)
    pred = pred + torch.randn(3, 2, 16, 20, generator=gen, dtype=torch.float64)
    terms = motion_terms(pred, gt, config)
    reward, r_cont = reward_from_terms(terms, config)
    mas = mas_from_terms(terms, config)
    assert mas.dtype == torch.float64 and mas.shape == (3,)
    for i in range(3):
        one = motion_terms(pred[i : i + 1], gt[i : i + 1], config)
        for name in ("d_mag", "d_dir", "m_move", "mean_pred", "mean_gt"):
            assert getattr(one, name).item() == pytest.approx(getattr(terms, name)[i].item(), **TOL)
        r1, c1 = motion_reward(pred[i : i + 1], gt[i : i + 1], config)
        assert (r1.item(), c1.item()) == pytest.approx((reward[i].item(), r_cont[i].item()), **TOL)
        m1 = motion_alignment_score(pred[i : i + 1], gt[i : i + 1], config)
        assert m1.item() == pytest.approx(mas[i].item(), **TOL)
    t32 = motion_terms(pred.float(), gt.float(), config)
    assert t32.d_mag.dtype == torch.float32
    for name in ("d_mag", "d_dir", "m_move", "mean_pred", "mean_gt"):
        assert torch.allclose(getattr(t32, name).double(), getattr(terms, name), rtol=0, atol=1e-5)
    r32, c32 = reward_from_terms(t32, config)
    assert torch.allclose(c32.double(), r_cont, rtol=0, atol=1e-5)
    assert torch.allclose(r32.double(), reward, rtol=0, atol=1e-6)
    # MAS is on a 0-100 scale: agreement to 1e-5 of the range
    assert torch.allclose(mas_from_terms(t32, config).double(), mas, rtol=0, atol=1e-3)


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match=r"\(1, 2, 6, 8\).*\(1, 2, 6, 9\)"):
        motion_terms(uniform(1, 1), uniform(1, 1, 6, 9), CODE)
    with pytest.raises(ValueError, match=r"\[B, 2, H, W\]"):
        motion_alignment_score(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), CODE)
    with pytest.raises(ValueError, match="exact"):
        flow_epe(torch.zeros(1, 2, 4, 4), torch.zeros(2, 2, 4, 4))


@pytest.mark.parametrize(
    "field, value",
    [("variant", "both"), ("q", 0.0), ("q", 1.5), ("eps", 0.0), ("mas_alpha", 1.2),
     ("mas_alpha", -0.1), ("d_max", 0.001), ("levels", 0), ("levels", 2.5), ("rho_min", -1.0),
     ("dir_threshold", float("nan")), ("w_mag", -0.7), ("mas_d_max", 0.5)],
)
def test_bad_config_raises_naming_field(field: str, value: object) -> None:
    kwargs = {field: value}
    if field == "mas_d_max":
        kwargs["mas_d_min"] = 0.6
    with pytest.raises(ValueError, match=rf"MotionConfig\.{field} = {re_value(value)}"):
        MotionConfig(**kwargs)  # type: ignore[arg-type]


def re_value(value: object) -> str:
    import re

    return re.escape(repr(value))


def test_flow_epe_hand_example() -> None:
    exact = torch.zeros(2, 2, 2, 2, dtype=torch.float64)
    pred = exact.clone()
    pred[0, :, 0, 0] = torch.tensor([3.0, 4.0])  # error 5
    pred[0, 0, 1, 1] = 1.0  # error 1
    pred[1] = 2.0  # error 2 * sqrt(2) everywhere
    assert flow_epe(pred, exact).tolist() == pytest.approx([1.5, 2 * math.sqrt(2)], **TOL)
