"""The motion stage (flows and flow metrics per sample) and the aggregate of a run."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mebench.metrics.stats import summarise

if TYPE_CHECKING:
    from PIL import Image

    from mebench.flowcache import FlowService
    from mebench.metrics.flowmetrics import FlowMetric
    from mebench.rundir import RunDir
    from mebench.runner import ModelChoice
    from mebench.taskfile import TaskConfig
    from mebench.types import Sample

SCORE_BATCH = 8


def _file_sha(path: Any) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    from PIL import Image

    return image if image.size == size else image.resize(size, Image.Resampling.BILINEAR)


def _resize_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample a ``[2, H, W]`` pixel flow to ``size`` = (W, H), rescaling its components."""
    import cv2

    h, w = flow.shape[1:]
    if (w, h) == size:
        return flow
    out = np.stack([cv2.resize(c, size, interpolation=cv2.INTER_LINEAR) for c in flow])
    out[0] *= size[0] / w
    out[1] *= size[1] / h
    return out


@dataclass
class _Prepared:
    sample: Sample
    edited: Image.Image
    source: Image.Image
    target: Image.Image | None  # None for a task without flow metrics (nothing to compare)
    edited_digest: str
    output_sha: str
    resized: dict[str, list[int]] | None


class Scorer:
    """Computes the flow metrics of every generated sample not already scored."""

    def __init__(self, rd: RunDir, flows: FlowService | None, metrics: list[FlowMetric], *,
                 progress: bool = True, save_flow: bool = False) -> None:
        self.rd = rd
        self.flows = flows
        self.metrics = metrics
        self.progress = progress
        self.save_flow = save_flow
        self.key = hashlib.sha256(repr((flows and flows.identity, [(m.name, m.settings()) for m in
                                                          metrics])).encode()).hexdigest()

    def _prepare(self, sample: Sample, output_sha: str) -> _Prepared:
        from PIL import Image

        from mebench.images import pixel_digest

        path = self.rd.output_path(sample.id)
        with Image.open(path) as im:
            edited = im.convert("RGB")
        source = sample.source.load()
        target = sample.target.load() if self.metrics and sample.target is not None else None
        resized = {name: list(im.size) for name, im in (("source", source), ("target", target))
                   if im is not None and im.size != edited.size} or None
        return _Prepared(sample, edited, _resize(source, edited.size),
                         None if target is None else _resize(target, edited.size),
                         pixel_digest(edited), output_sha, resized)

    def score(self, samples: list[Sample], failures: Mapping[str, str],
              desc: str = "motion") -> list[dict[str, Any]]:
        """Per-sample records in dataset order; finished ones come from samples.partial.jsonl."""
        from mebench.runner import progress_bar

        done = self.rd.read_partial()
        records: dict[str, dict[str, Any]] = {}
        todo: list[tuple[Sample, str]] = []
        for s in samples:
            path = self.rd.output_path(s.id)
            if s.id in failures or not path.is_file():
                records[s.id] = _failure(s, "generate", failures.get(s.id, "no output image"))
                continue
            sha = _file_sha(path)
            old = done.get(s.id)
            if old and old.get("scoring_key") == self.key and old.get("output_sha256") == sha \
                    and not self._pictures_missing(s.id):
                records[s.id] = old
            else:
                todo.append((s, sha))
        bar = progress_bar(len(todo), desc, self.progress)
        for start in range(0, len(todo), SCORE_BATCH):
            chunk = [self._prepare(s, sha) for s, sha in todo[start:start + SCORE_BATCH]]
            new = self._score_chunk(chunk)
            self.rd.append_partial(new)
            records.update((r["id"], r) for r in new)
            bar.update(len(chunk))
        bar.close()
        return [records[s.id] for s in samples]

    def _score_chunk(self, chunk: list[_Prepared]) -> list[dict[str, Any]]:
        import torch

        from mebench.flowcache import FlowPair
        from mebench.images import pixel_digest
        from mebench.metrics.flowmetrics import FlowBatch

        if self.flows is None or not self.metrics:  # a judge-only task (ImgEdit): no flows
            return [self._record(p, {}) for p in chunk]
        pairs: list[FlowPair] = []
        for p in chunk:
            src_digest = pixel_digest(p.source) if p.resized else p.sample.source.digest
            tgt_digest = pixel_digest(p.target) if p.resized else p.sample.target.digest  # type: ignore[union-attr]
            pairs.append(FlowPair(p.source, p.target, src_digest, tgt_digest))  # type: ignore[arg-type]
            pairs.append(FlowPair(p.source, p.edited, src_digest, p.edited_digest))
        flows = self.flows.flows(pairs)
        if self.save_flow:
            self._save_flow_pictures(chunk, flows)
        values: list[dict[str, float]] = [{} for _ in chunk]
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i in range(len(chunk)):
            by_shape.setdefault(flows[2 * i].shape, []).append(i)
        for idx in by_shape.values():
            # float32 is plenty: the flows themselves are stored at float16 precision
            gt = torch.from_numpy(np.stack([flows[2 * i] for i in idx]))
            pred = torch.from_numpy(np.stack([flows[2 * i + 1] for i in idx]))
            exact = None
            if all(chunk[i].sample.flow is not None for i in idx):
                exact = torch.from_numpy(np.stack([
                    _resize_flow(chunk[i].sample.flow, chunk[i].edited.size) for i in idx  # type: ignore[arg-type]
                ]))
            batch = FlowBatch(pred=pred, gt=gt, exact=exact)
            for metric in self.metrics:
                for name, vals in metric.compute(batch).items():
                    for i, v in zip(idx, vals):
                        values[i][name] = round(float(v), 6)
        return [self._record(p, values[i]) for i, p in enumerate(chunk)]

    def _record(self, p: _Prepared, metrics: dict[str, float]) -> dict[str, Any]:
        return {"id": p.sample.id, "category": p.sample.category,
                "instruction": p.sample.instruction, "status": "ok",
                "output": f"outputs/{p.sample.id}.png", "output_sha256": p.output_sha,
                "size": list(p.edited.size), "resized": p.resized, "metrics": metrics,
                "scoring_key": self.key}

    def _pictures_missing(self, sample_id: str) -> bool:
        folder = self.rd.path / "flows"
        return self.save_flow and not all((folder / f"{sample_id}_{kind}.png").is_file()
                                          for kind in ("gt", "pred"))

    def _save_flow_pictures(self, chunk: list[_Prepared], flows: list[np.ndarray]) -> None:
        """``flows/<id>_gt.png`` and ``flows/<id>_pred.png`` (Middlebury colours, one scale)."""
        from mebench.flowviz import save_flow_png

        for i, p in enumerate(chunk):
            gt, pred = flows[2 * i], flows[2 * i + 1]
            longest = max(float(np.sqrt((f ** 2).sum(0)).max()) for f in (gt, pred))
            scale = longest if longest > 0 else None
            save_flow_png(gt, self.rd.path / "flows" / f"{p.sample.id}_gt.png", scale)
            save_flow_png(pred, self.rd.path / "flows" / f"{p.sample.id}_pred.png", scale)


def _failure(sample: Sample, stage: str, error: str) -> dict[str, Any]:
    return {"id": sample.id, "category": sample.category, "instruction": sample.instruction,
            "status": "failed", "stage": stage, "error": error}


def aggregate(task: TaskConfig, choice: ModelChoice, flows: FlowService | None,
              records: list[dict[str, Any]], *, seed: int,
              judge: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """results.json: per-metric mean and bootstrap 95% CI, per category, n and n_failed.

    ``judge`` is the judge stage's block (name, model, mode, prompt, n_judged, n_failed, usage,
    cost_usd; see :mod:`mebench.judging.stage`), kept as ``results["judge"]``; the judge's
    per-sample scores are already in the records' metrics."""
    ok = [r for r in records if r["status"] == "ok"]
    names = sorted({k for r in ok for k in r["metrics"]})

    def block(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {name: summarise([r["metrics"][name] for r in rows if name in r["metrics"]],
                                seed=seed) for name in names}

    categories = sorted({r["category"] for r in records if r["category"] is not None})
    by_category = {
        c: {"n": sum(r["category"] == c for r in records),
            "n_failed": sum(r["category"] == c and r["status"] != "ok" for r in records),
            "metrics": block([r for r in ok if r["category"] == c])}
        for c in categories
    }
    return {
        "task": task.task,
        "task_version": task.version,
        "task_hash": task.content_hash(),
        "model": choice.name,
        "model_args": choice.args,
        "run_name": choice.slug,
        "flow": None if flows is None else {"name": flows.spec.name, "args": flows.args},
        "seed": seed,
        "n": len(records),
        "n_scored": len(ok),
        "n_failed": len(records) - len(ok),
        "metrics": block(ok),
        "by_category": by_category,
        "failures": [{"id": r["id"], "stage": r["stage"], "error": r["error"]}
                     for r in records if r["status"] != "ok"],
        **({"judge": dict(judge)} if judge is not None else {}),
    }
