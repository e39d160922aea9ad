"""The README's worked example for editors mebench does not run: score a folder of <id>.png."""

from __future__ import annotations

import json
from pathlib import Path

from tiny_pipelines import Invoke  # beside conftest.py


def test_score_a_folder_made_elsewhere(invoke: Invoke, tmp_path: Path) -> None:
    common = ["--task", "motionedit-synthetic", "--limit", "4", "--dataset-args", "size=64",
              "--no-progress"]
    made = invoke("run", "--model", "ground-truth", "--output", str(tmp_path / "elsewhere"),
                  *common)
    assert made.exit_code == 0, made.output
    outputs = tmp_path / "elsewhere" / "ground-truth" / "outputs"
    (outputs / "syn-0003.png").unlink()  # the outside editor skipped one sample
    scored = invoke("score", "--outputs", str(outputs), "--output", str(tmp_path / "scored"),
                    *common)
    assert scored.exit_code == 0, scored.output
    via_model = invoke("run", "--model", "folder", "--model-args", f"path={outputs.resolve()}",
                       "--output", str(tmp_path / "via-model"), *common)
    assert via_model.exit_code == 0, via_model.output
    (a,) = (tmp_path / "scored").iterdir()
    (b,) = (tmp_path / "via-model").iterdir()
    assert a.name == b.name and a.name.startswith("folder-")  # the same run, two spellings
    results = json.loads((a / "results.json").read_text())
    assert (results["n"], results["n_failed"], results["n_scored"]) == (4, 1, 3)
    assert results["metrics"]["mas"]["mean"] > 90  # the ground truth, made "elsewhere"
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()
    failed = [json.loads(x) for x in (a / "samples.jsonl").read_text().splitlines()]
    assert [r["id"] for r in failed if r.get("error")] == ["syn-0003"]
