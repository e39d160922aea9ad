"""The UniMatch network: official state-dict layout, parameter counts, and its parts' maths."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mebench.plugins.unimatch.attention import (
    merge_windows,
    position_embedding,
    shifted_window_mask,
    split_windows,
    window_attention,
)
from mebench.plugins.unimatch.matching import (
    convex_upsample,
    flow_warp,
    global_correlation_softmax,
    local_correlation_softmax,
    local_correlation_with_flow,
)
from mebench.plugins.unimatch.model import (
    VARIANTS,
    build_model,
    extract_state_dict,
    load_checkpoint,
    param_count,
)

DATA = Path(__file__).parent / "data" / "unimatch_state_dicts.json"
OFFICIAL = json.loads(DATA.read_text())


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_state_dict_matches_the_official_keys_and_shapes(variant: str) -> None:
    model = build_model(variant)
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    official = OFFICIAL[variant]["state_dict"]
    assert sorted(set(ours) - set(official)) == []
    assert sorted(set(official) - set(ours)) == []
    assert ours == official


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_parameter_count_is_the_official_figure(variant: str) -> None:
    model = build_model(variant)
    assert param_count(model) == OFFICIAL[variant]["num_parameters"]
    assert VARIANTS[variant].num_parameters == OFFICIAL[variant]["num_parameters"]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_model_kwargs_are_the_official_ones(variant: str) -> None:
    kwargs = dict(OFFICIAL[variant]["model_kwargs"])
    assert kwargs.pop("task") == "flow"
    assert {k: getattr(VARIANTS[variant].model, k) for k in kwargs} == kwargs


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_strict_load_of_an_official_layout_checkpoint(variant: str, tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(1)
    state = {k: torch.randn(shape, generator=gen)
             for k, shape in OFFICIAL[variant]["state_dict"].items()}
    path = tmp_path / "ckpt.pth"
    # the official files wrap the weights: {"model": state_dict, "optimizer": ..., "step": ...}
    torch.save({"model": state, "step": 7}, path)
    model = build_model(variant)
    load_checkpoint(model, path)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_strict_load_refuses_a_missing_or_extra_key() -> None:
    model = build_model("gmflow-scale2")
    state = model.state_dict()
    missing = {k: v for k, v in state.items() if k != "backbone.trident_conv.weight"}
    with pytest.raises(RuntimeError, match="trident_conv"):
        model.load_state_dict(missing, strict=True)
    extra = {**state, "refine_proj.weight": torch.zeros(256, 128, 1, 1)}
    with pytest.raises(RuntimeError, match="refine_proj"):
        model.load_state_dict(extra, strict=True)


def test_extract_state_dict_formats() -> None:
    sd = {"a": torch.zeros(1)}
    assert extract_state_dict({"model": sd, "optimizer": {}}, source="x") is sd
    assert extract_state_dict(sd, source="x") is sd
    with pytest.raises(ValueError, match="holds no state dict"):
        extract_state_dict({"step": 3}, source="x.pth")


def test_unknown_variant() -> None:
    with pytest.raises(ValueError, match="known: gmflow-scale1"):
        build_model("gmflow-scale3")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_forward_shape_and_finite(variant: str) -> None:
    torch.manual_seed(0)
    model = build_model(variant).eval()
    img0, img1 = torch.rand(2, 2, 3, 64, 64) * 255
    with torch.inference_mode():
        flow = model(img0, img1, VARIANTS[variant].inference)
    assert flow.shape == (2, 2, 64, 64)
    assert torch.isfinite(flow).all()


def test_inference_settings_must_fit_the_variant() -> None:
    model = build_model("gmflow-scale2")
    with pytest.raises(ValueError, match="attn_splits_list needs 2 entries"):
        model.check_config(VARIANTS["gmflow-scale1"].inference)
    model.check_config(VARIANTS["gmflow-scale2"].inference)
    assert model.size_multiple(VARIANTS["gmflow-scale2"].inference) == 32
    assert build_model("gmflow-scale1").size_multiple(VARIANTS["gmflow-scale1"].inference) == 16


# -- the parts ---------------------------------------------------------------------------------


def test_split_and_merge_windows_round_trip() -> None:
    x = torch.arange(2 * 3 * 8 * 12, dtype=torch.float32).view(2, 3, 8, 12)
    windows = split_windows(x, 4)
    assert windows.shape == (32, 3, 2, 3)
    assert torch.equal(windows[1], x[0, :, 0:2, 3:6])  # row-major windows of the first image
    assert torch.equal(windows[16 + 5], x[1, :, 2:4, 3:6])
    assert torch.equal(merge_windows(windows, 4), x)


def _naive_window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, h: int, w: int,
                            splits: int, shifted: bool) -> torch.Tensor:
    """Loop version: a token attends to tokens of its (shifted) window that are also of its
    region (Swin's mask), computed in unrolled coordinates."""
    b, _, c = q.shape
    wh, ww = h // splits, w // splits
    sh, sw = (wh // 2, ww // 2) if shifted else (0, 0)

    def rolled(i: int, j: int) -> tuple[int, int]:  # where pixel (i, j) sits after the roll
        return (i - sh) % h, (j - sw) % w

    def region(r: int, n: int, win: int, s: int) -> int:
        return 0 if r < n - win else (1 if r < n - s else 2)

    out = torch.zeros_like(q)
    for p in range(h * w):
        pi, pj = rolled(p // w, p % w)
        keys = []
        for t in range(h * w):
            ti, tj = rolled(t // w, t % w)
            same_window = (pi // wh, pj // ww) == (ti // wh, tj // ww)
            same_region = not shifted or (
                (region(pi, h, wh, sh), region(pj, w, ww, sw))
                == (region(ti, h, wh, sh), region(tj, w, ww, sw)))
            if same_window and same_region:
                keys.append(t)
        scores = q[:, p:p + 1] @ k[:, keys].transpose(1, 2) / math.sqrt(c)
        out[:, p] = (torch.softmax(scores, -1) @ v[:, keys])[:, 0]
    return out


@pytest.mark.parametrize("shifted", [False, True])
def test_window_attention_matches_a_loop(shifted: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    h, w, splits = 8, 12, 2
    q, k, v = (torch.randn(2, h * w, 4, generator=gen) for _ in range(3))
    mask = shifted_window_mask(h, w, splits, device=q.device) if shifted else None
    got = window_attention(q, k, v, h=h, w=w, splits=splits, mask=mask)
    want = _naive_window_attention(q, k, v, h, w, splits, shifted)
    assert torch.allclose(got, want, atol=1e-5)


def test_position_embedding_values() -> None:
    pos = position_embedding(1, 8, 4, 6, device=torch.device("cpu"))
    assert pos.shape == (1, 8, 4, 6)
    # channel 0: sin of the normalised y, which is 2*pi*(row+1)/H; channel 4: the same for x
    rows = torch.arange(1, 5, dtype=torch.float32) / 4 * 2 * math.pi
    cols = torch.arange(1, 7, dtype=torch.float32) / 6 * 2 * math.pi
    assert torch.allclose(pos[0, 0, :, 0], torch.sin(rows), atol=1e-5)
    assert torch.allclose(pos[0, 4, 0, :], torch.sin(cols), atol=1e-5)
    assert torch.allclose(pos[0, 1, :, 0], torch.cos(rows), atol=1e-5)


def _shifted_pair(dx: int, dy: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Distinctive features f0 and f1 with f1(p + d) = f0(p)."""
    gen = torch.Generator().manual_seed(0)
    f0 = torch.randn(1, 32, 12, 16, generator=gen) * 4
    f1 = torch.roll(f0, shifts=(dy, dx), dims=(2, 3))
    return f0, f1


def test_global_matching_finds_the_displacement() -> None:
    f0, f1 = _shifted_pair(3, -2)
    flow = global_correlation_softmax(f0, f1)
    inner = flow[0, :, 2:10, 0:13]  # pixels whose match is inside the image (no wrap-around)
    assert torch.allclose(inner[0], torch.full_like(inner[0], 3.0), atol=1e-3)
    assert torch.allclose(inner[1], torch.full_like(inner[1], -2.0), atol=1e-3)


def test_local_matching_finds_the_displacement_within_the_radius() -> None:
    f0, f1 = _shifted_pair(-1, 2)
    flow = local_correlation_softmax(f0, f1, 2)
    inner = flow[0, :, 0:10, 1:16]
    assert torch.allclose(inner[0], torch.full_like(inner[0], -1.0), atol=1e-3)
    assert torch.allclose(inner[1], torch.full_like(inner[1], 2.0), atol=1e-3)


def test_local_correlation_channels_are_dy_major() -> None:
    f0, f1 = _shifted_pair(1, 0)
    corr = local_correlation_with_flow(f0, f1, torch.zeros(1, 2, 12, 16), 4)
    assert corr.shape == (1, 81, 12, 16)
    # the true match is at offset (dx=1, dy=0): channel (0+4)*9 + (1+4)
    assert (corr[0, :, 2:10, 2:12].argmax(0) == 4 * 9 + 5).all()
    # following the flow moves the peak to the centre channel
    shifted = local_correlation_with_flow(f0, f1, torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)
                                          .expand(1, 2, 12, 16), 4)
    assert (shifted[0, :, 2:10, 2:12].argmax(0) == 40).all()


def test_flow_warp_by_an_integer_flow() -> None:
    f0, f1 = _shifted_pair(2, 1)
    flow = torch.tensor([2.0, 1.0]).view(1, 2, 1, 1).expand(1, 2, 12, 16)
    warped = flow_warp(f1, flow)  # samples f1(p + d) = f0(p)
    assert torch.allclose(warped[..., 0:11, 0:14], f0[..., 0:11, 0:14], atol=1e-5)
    assert torch.equal(warped[..., :, 15], torch.zeros_like(warped[..., :, 15]))  # outside: 0


def test_convex_upsampling_of_a_constant_flow() -> None:
    gen = torch.Generator().manual_seed(0)
    flow = torch.tensor([1.5, -0.5]).view(1, 2, 1, 1).expand(1, 2, 5, 7).contiguous()
    mask = torch.randn(1, 9 * 16, 5, 7, generator=gen)
    up = convex_upsample(flow, mask, 4)
    assert up.shape == (1, 2, 20, 28)
    inner = up[0, :, 4:16, 4:24]  # away from the zero-padded border
    assert torch.allclose(inner[0], torch.full_like(inner[0], 6.0), atol=1e-5)
    assert torch.allclose(inner[1], torch.full_like(inner[1], -2.0), atol=1e-5)


def test_convex_upsampling_layout_follows_the_mask() -> None:
    """A mask that picks the right-hand neighbour for every sub-pixel copies it."""
    flow = torch.arange(12, dtype=torch.float32).view(1, 1, 3, 4).repeat(1, 2, 1, 1)
    mask = torch.full((1, 9, 2, 2, 3, 4), -50.0)
    mask[:, 5] = 50.0  # neighbour index 5 of the 3x3 patch = (row 0, col +1)
    up = convex_upsample(flow, mask.view(1, 36, 3, 4), 2)
    expected = F.pad(flow[..., 1:], (0, 1)) * 2  # right neighbour, zero past the edge
    expected = expected.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    assert torch.allclose(up, expected, atol=1e-4)
