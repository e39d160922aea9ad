"""Middlebury colour coding of optical flow, and --save-flow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mebench.flowviz import colour_wheel, flow_to_colour


def _uniform(u: float, v: float, size: int = 4) -> np.ndarray:
    flow = np.zeros((2, size, size), np.float32)
    flow[0], flow[1] = u, v
    return flow


@pytest.mark.parametrize("u, v, rgb", [
    (1, 0, (255, 0, 0)),      # right: red
    (0, 1, (255, 229, 0)),    # down (y grows downwards): yellow
    (-1, 0, (0, 209, 255)),   # left: cyan
    (0, -1, (88, 0, 255)),    # up: blue-violet
])
def test_pure_directions_have_the_wheel_colours(u: float, v: float,
                                                rgb: tuple[int, int, int]) -> None:
    out = flow_to_colour(_uniform(u, v))
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert tuple(int(c) for c in out[0, 0]) == pytest.approx(rgb, abs=1)
    assert (out == out[0, 0]).all()


def test_wheel_and_saturation() -> None:
    wheel = colour_wheel()
    assert wheel.shape == (55, 3) and wheel.min() == 0 and wheel.max() == 255
    assert (flow_to_colour(np.zeros((2, 3, 3))) == 255).all()  # no motion: white
    # half the scale: halfway to white; beyond the scale: darkened
    half = flow_to_colour(_uniform(5, 0), max_flow=10)[0, 0]
    assert tuple(half) == (255, 127, 127)
    over = flow_to_colour(_uniform(20, 0), max_flow=10)[0, 0]
    assert tuple(over) == (191, 0, 0)
    flow = _uniform(1, 0)
    flow[0, 0, 0] = np.nan
    out = flow_to_colour(flow)
    assert tuple(out[0, 0]) == (0, 0, 0) and tuple(out[1, 1]) == (255, 0, 0)
    with pytest.raises(ValueError, match=r"\[2, H, W\]"):
        flow_to_colour(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="max_flow"):
        flow_to_colour(np.zeros((2, 4, 4)), max_flow=0)


def test_save_flow_writes_gt_and_pred_pictures(invoke,  # type: ignore[no-untyped-def]
                                               tmp_path: Path) -> None:
    args = ["run", "--task", "motionedit-synthetic", "--model", "ground-truth,identity",
            "--limit", "2", "--dataset-args", "size=64", "--output", str(tmp_path),
            "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--format", "json"]
    assert invoke(*args[:-2]).exit_code == 0  # first without --save-flow: no pictures
    assert not (tmp_path / "ground-truth" / "flows").exists()
    result = invoke(*args, "--save-flow")  # a rerun with --save-flow draws the finished samples
    assert result.exit_code == 0, result.output
    for model in ("ground-truth", "identity"):
        names = sorted(p.name for p in (tmp_path / model / "flows").iterdir())
        assert names == ["syn-0000_gt.png", "syn-0000_pred.png", "syn-0001_gt.png",
                         "syn-0001_pred.png"]
    gt = np.asarray(Image.open(tmp_path / "ground-truth" / "flows" / "syn-0000_gt.png"))
    assert gt.shape == (64, 64, 3) and (gt != 255).any()  # the edit moved something
    same = np.asarray(Image.open(tmp_path / "ground-truth" / "flows" / "syn-0000_pred.png"))
    assert (gt == same).all()  # the ground-truth model's edit is the target: the same flow
    # identity: F(source, source) is no motion, white, drawn on the ground-truth's scale
    ident = np.asarray(Image.open(tmp_path / "identity" / "flows" / "syn-0000_pred.png"))
    assert (ident >= 250).all()
    samples = [json.loads(x) for x in
               (tmp_path / "identity" / "samples.jsonl").read_text().splitlines()]
    assert [s["metrics"]["mas"] for s in samples] == [0.0, 0.0]
