"""`mebench motion-stats`: input-target motion over the image diagonal (paper, Figure 6)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mebench.motionstats import distribution, normalised_magnitude
from mebench.synthetic import generate_sample

N, SIZE = 12, 96


def _direct(n: int = N, size: int = SIZE) -> list[float]:
    """Per-sample normalised magnitudes, computed here from the generator's exact flows."""
    out = []
    for i in range(n):
        flow = generate_sample(i, size=size).flow
        out.append(float(np.hypot(flow[0], flow[1]).mean()) / math.hypot(size, size))
    return out


def _stats(invoke, *args: str) -> dict:  # type: ignore[no-untyped-def]
    result = invoke("motion-stats", *args, "--json", "--no-progress")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_exact_flow_gives_the_direct_mean(invoke) -> None:  # type: ignore[no-untyped-def]
    out = _stats(invoke, "--task", "motionedit-synthetic", "--flow", "exact", "--limit", str(N),
                 "--dataset-args", f"size={SIZE}")
    direct = _direct()
    assert out["overall"]["n"] == N
    assert out["overall"]["mean"] > 0
    assert out["overall"]["mean"] == pytest.approx(np.mean(direct), abs=1e-6)
    assert out["overall"]["median"] == pytest.approx(np.median(direct), abs=1e-6)
    assert [p["motion"] for p in out["pairs"]] == pytest.approx(direct, abs=1e-6)
    assert len(out["by_category"]) == 6
    assert sum(c["n"] for c in out["by_category"].values()) == N


def test_an_estimator_agrees_with_the_exact_flow_and_uses_the_cache(
        invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = ["--task", "motionedit-synthetic", "--limit", str(N), "--dataset-args",
            f"size={SIZE}", "--cache-dir", str(tmp_path)]
    out = _stats(invoke, *args)
    assert out["flow"]["name"] == "opencv-dis"  # the task's estimator
    exact = float(np.mean(_direct()))
    assert out["overall"]["mean"] == pytest.approx(exact, rel=0.35)
    entries = sorted(tmp_path.glob("flow/*/*.npy"))
    assert len(entries) == N
    again = _stats(invoke, *args, "--hist", str(tmp_path / "h.png"))
    assert again["overall"] == out["overall"]
    assert sorted(tmp_path.glob("flow/*/*.npy")) == entries
    with Image.open(tmp_path / "h.png") as im:
        assert im.size == (720, 420)
        assert len(im.getcolors(1 << 16)) > 3  # bars, axes, mean line, text


def test_a_folder_of_pairs(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        s = generate_sample(i, size=64)
        s.source.save(tmp_path / f"p{i}_input.png")
        s.target.save(tmp_path / f"p{i}_target.png")
    out = _stats(invoke, "--pairs", str(tmp_path), "--no-cache")
    assert [p["id"] for p in out["pairs"]] == ["p0", "p1", "p2"]
    assert out["by_category"] == {} and out["overall"]["n"] == 3
    task = _stats(invoke, "--task", "motionedit-synthetic", "--limit", "3", "--dataset-args",
                  "size=64", "--no-cache")
    assert [p["motion"] for p in out["pairs"]] == [p["motion"] for p in task["pairs"]]
    result = invoke("motion-stats", "--pairs", str(tmp_path), "--limit", "2", "--no-progress")
    assert result.exit_code == 0
    assert result.output.splitlines()[3].split()[:2] == ["all", "2"]


def test_bad_input(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from mebench.cli.main import build_cli
    from mebench.plugin_manager import get_plugin_manager

    pm = get_plugin_manager()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(build_cli(pm), ["motion-stats", *args, "--no-progress"],
                                  obj=pm)

    assert "either --task or --pairs" in run().output
    assert "either --task or --pairs" in run("--task", "x", "--pairs", str(tmp_path)).output
    Image.new("RGB", (8, 8)).save(tmp_path / "a_input.png")
    result = run("--pairs", str(tmp_path))
    assert result.exit_code == 2 and "a_input.png has no a_target.png" in result.output
    Image.new("RGB", (8, 8)).save(tmp_path / "a_target.png")
    result = run("--pairs", str(tmp_path), "--flow", "exact")
    assert result.exit_code == 2 and "no exact flow" in result.output
    result = run("--task", "motionedit-synthetic", "--limit", "0")
    assert result.exit_code == 2 and "--limit" in result.output
    result = run("--task", "motionedit-synthetic", "--flow", "nope", "--limit", "1")
    assert result.exit_code == 2 and "opencv-dis" in result.output


def test_helpers() -> None:
    flow = np.zeros((2, 30, 40), np.float32)
    flow[0], flow[1] = 3.0, 4.0
    assert normalised_magnitude(flow) == pytest.approx(5.0 / 50.0)
    d = distribution([1.0, 2.0, 3.0, 4.0])
    assert d == {"n": 4, "mean": 2.5, "std": round(float(np.std([1, 2, 3, 4], ddof=1)), 6),
                 "median": 2.5, "p10": 1.3, "p90": 3.7, "min": 1.0, "max": 4.0}
    assert distribution([])["n"] == 0 and distribution([2.0])["std"] is None
