"""Finished run directories with known judge scores, written the way the judge stage writes them
(samples.jsonl per the per-sample contract, results.json, outputs/<id>.png)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

RunMaker = Callable[..., Path]


def write_run(root: Path, name: str, overall: Mapping[str, float | None], *,
              task: str = "motionedit", categories: Mapping[str, str] | None = None,
              failed: tuple[str, ...] = (), extra: Mapping[str, Mapping[str, float]] | None = None
              ) -> Path:
    """A run of ``name``: each id in ``overall`` judged with that Overall (``None``: the judge
    gave no score), each id in ``failed`` a failed sample."""
    from PIL import Image

    path = root / name
    (path / "outputs").mkdir(parents=True)
    records = []
    cats = dict(categories or {})
    for sid, value in overall.items():
        # flow metrics only where the task has flow (imgedit is judged only)
        metrics: dict[str, float] = {} if task == "imgedit" else {"mas": 50.0}
        metrics.update((extra or {}).get(sid, {}))
        if value is not None:
            metrics.update(overall=value, fidelity=value, preservation=value, coherence=value)
        image = Image.new("RGB", (4, 4), (int(10 * (value or 0)), 0, 0))
        image.save(path / "outputs" / f"{sid}.png")
        records.append({"id": sid, "category": cats.get(sid), "instruction": f"do {sid}",
                        "status": "ok", "output": f"outputs/{sid}.png", "metrics": metrics,
                        "judge": {"scores": None if value is None else {"overall": value},
                                  "raw": "", "error": None if value is not None else "no parse"}})
    for sid in failed:
        records.append({"id": sid, "category": cats.get(sid), "instruction": f"do {sid}",
                        "status": "failed", "stage": "generate", "error": "boom"})
    (path / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    ok = [r for r in records if r["status"] == "ok"]

    def block(rows: list[dict]) -> dict:
        names = sorted({k for r in rows for k in r["metrics"]})
        out = {}
        for k in names:
            vals = [r["metrics"][k] for r in rows if k in r["metrics"]]
            out[k] = {"mean": sum(vals) / len(vals), "ci95": None, "std": None, "n": len(vals)}
        return out

    present = sorted({r["category"] for r in records if r["category"]})
    results = {
        "task": task, "model": name, "run_name": name, "n": len(records),
        "n_scored": len(ok), "n_failed": len(records) - len(ok), "metrics": block(ok),
        "by_category": {c: {"n": sum(r["category"] == c for r in records), "n_failed": 0,
                            "metrics": block([r for r in ok if r["category"] == c])}
                        for c in present},
    }
    (path / "results.json").write_text(json.dumps(results))
    return path


@pytest.fixture
def make_run(tmp_path: Path) -> RunMaker:
    def _make(name: str, overall: Mapping[str, float | None], **kw: object) -> Path:
        root = Path(str(kw.pop("root", tmp_path / "runs")))
        return write_run(root, name, overall, **kw)  # type: ignore[arg-type]

    return _make
