"""End to end through the CLI on the embedded synthetic task (in-process, OpenCV DIS flow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _results(path: Path) -> dict:
    return json.loads((path / "results.json").read_text())


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ground-truth and identity on 12 synthetic samples, run once for this module."""
    from click.testing import CliRunner

    from mebench.cli.main import build_cli
    from mebench.plugin_manager import get_plugin_manager

    out = tmp_path_factory.mktemp("runs")
    pm = get_plugin_manager()
    result = CliRunner().invoke(
        build_cli(pm),
        ["run", "--task", "motionedit-synthetic", "--model", "ground-truth,identity",
         "--limit", "12", "--output", str(out), "--no-progress",
         "--cache-dir", str(out / "cache")],
        obj=pm, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_ground_truth_is_the_ceiling_and_identity_the_floor(reference_runs: Path) -> None:
    gt = _results(reference_runs / "ground-truth")
    ident = _results(reference_runs / "identity")
    assert gt["n"] == 12 and gt["n_failed"] == 0
    assert gt["metrics"]["mas"]["mean"] >= 90
    assert gt["metrics"]["motion_reward"]["mean"] == pytest.approx(1.0)
    assert ident["metrics"]["mas"]["mean"] == 0.0
    assert ident["metrics"]["motion_reward"]["mean"] < gt["metrics"]["motion_reward"]["mean"]
    # for the ground truth the exact flow measures only the estimator's error: under a pixel
    assert gt["metrics"]["flow_epe"]["mean"] < 1.0


def test_results_have_categories_ci_and_run_json(reference_runs: Path) -> None:
    gt = _results(reference_runs / "ground-truth")
    assert len(gt["by_category"]) == 6
    assert sum(c["n"] for c in gt["by_category"].values()) == 12
    lo, hi = gt["metrics"]["mas"]["ci95"]
    assert lo <= gt["metrics"]["mas"]["mean"] <= hi
    run = json.loads((reference_runs / "ground-truth" / "run.json").read_text())
    assert run["task"]["task"] == "motionedit-synthetic"
    assert len(run["task_hash"]) == 64
    assert run["versions"]["torch"] and run["versions"]["mebench"]
    assert run["flow"]["name"] == "opencv-dis"
    assert "generate" in run["timings"] and "motion" in run["timings"]
    lines = (reference_runs / "ground-truth" / "samples.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == [f"syn-{i:04d}" for i in range(12)]
    assert len(list((reference_runs / "identity" / "outputs").glob("*.png"))) == 12


def test_ground_truth_flow_is_shared_between_models(reference_runs: Path) -> None:
    gt_run = json.loads((reference_runs / "ground-truth" / "run.json").read_text())
    id_run = json.loads((reference_runs / "identity" / "run.json").read_text())
    # ground-truth: F(src, tgt) once, its "edit" is the same pair; identity: only F(src, src) new
    assert gt_run["flow_counts"]["computed_total"] == 12
    assert id_run["flow_counts"]["computed_total"] == 24
    cached = list((reference_runs / "cache" / "flow").glob("*/*.npy"))
    assert len(cached) == 24


@pytest.mark.parametrize("fmt", ["table", "markdown", "latex", "csv", "json"])
def test_compare_in_every_format(invoke, reference_runs: Path, fmt: str) -> None:  # type: ignore[no-untyped-def]
    result = invoke("compare", str(reference_runs / "ground-truth"),
                    str(reference_runs / "identity"), "--format", fmt)
    assert result.exit_code == 0
    out = result.output
    assert "ground-truth" in out and "identity" in out
    if fmt == "json":
        rows = json.loads(out)
        assert {r["model"] for r in rows} == {"ground-truth", "identity"}
        assert rows[1]["mas"] == 0.0
    elif fmt == "csv":
        assert out.splitlines()[0].startswith("Model,MAS,")
    elif fmt == "latex":
        assert "\\begin{tabular}" in out and "\\toprule" in out
    elif fmt == "markdown":
        assert out.splitlines()[1].startswith("|")
    else:
        assert "MAS" in out


def test_compare_reference_and_categories(invoke, reference_runs: Path) -> None:  # type: ignore[no-untyped-def]
    result = invoke("compare", str(reference_runs), "--reference", "paper", "--by-category")
    assert result.exit_code == 0
    assert "Qwen-Image-Edit + MotionNFT (paper)" in result.output
    assert "57.23" in result.output and "73.67" in result.output
    assert "Inter-Subject Interaction" in result.output


def test_synthetic_motion_orders_mas_as_expected(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """MAS with opencv-dis: fraction 1.0 > 0.5 > 0.0 = identity = 0, and -1.0 low."""
    mas, epe = {}, {}
    for fraction in ("1.0", "0.5", "0.0", "-1.0"):
        result = invoke("run", "--task", "motionedit-synthetic", "--model", "synthetic-motion",
                        "--model-args", f"fraction={fraction}", "--limit", "12",
                        "--output", str(tmp_path / fraction), "--no-progress")
        assert result.exit_code == 0, result.output
        (run,) = [p for p in (tmp_path / fraction).iterdir() if p.is_dir()]
        mas[fraction] = _results(run)["metrics"]["mas"]["mean"]
        epe[fraction] = _results(run)["metrics"]["flow_epe"]["mean"]
    assert mas["1.0"] > mas["0.5"] > mas["0.0"]
    assert mas["0.0"] == 0.0
    assert mas["-1.0"] < mas["0.5"]
    assert mas["1.0"] >= 90
    # against the exact flow, the opposite motion is off by twice the motion everywhere it moves
    assert epe["-1.0"] > 1.5 * epe["1.0"]


def test_score_images_made_elsewhere(invoke, tmp_path: Path, reference_runs: Path) -> None:  # type: ignore[no-untyped-def]
    outputs = reference_runs / "ground-truth" / "outputs"
    result = invoke("score", "--outputs", str(outputs), "--task", "motionedit-synthetic",
                    "--limit", "12", "--output", str(tmp_path), "--no-progress")
    assert result.exit_code == 0, result.output
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    res = _results(run)
    assert res["model"] == "folder" and res["n_failed"] == 0
    assert res["metrics"]["mas"]["mean"] == _results(reference_runs / "ground-truth")[
        "metrics"]["mas"]["mean"]


def test_folder_model_missing_file_is_a_per_sample_failure(invoke, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                           reference_runs: Path) -> None:
    src = reference_runs / "ground-truth" / "outputs"
    partial = tmp_path / "partial"
    partial.mkdir()
    for p in sorted(src.glob("*.png"))[:10]:
        (partial / p.name).write_bytes(p.read_bytes())
    (partial / "syn-0011.png").write_bytes(b"not a png")
    result = invoke("run", "--task", "motionedit-synthetic", "--model", "folder",
                    "--model-args", f"path={partial}", "--limit", "12",
                    "--output", str(tmp_path / "out"), "--no-progress")
    assert result.exit_code == 0, result.output
    (run,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    res = _results(run)
    assert res["n"] == 12 and res["n_failed"] == 2 and res["n_scored"] == 10
    errors = {f["id"]: f["error"] for f in res["failures"]}
    assert "syn-0010" in errors["syn-0010"] and "no output image" in errors["syn-0010"]
    assert "unreadable image" in errors["syn-0011"] and "syn-0011.png" in errors["syn-0011"]
    assert res["metrics"]["mas"]["n"] == 10
