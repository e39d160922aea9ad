"""Scoring throughput on the synthetic task with opencv-dis, and flow reuse across models.

Prints JSON:
- for 256x256 and 512x512: pairs per second of the whole motion stage, and milliseconds per pair
  spent in the flow estimator and in the metrics (MAS + reward + EPE) separately;
- for three models scored on the same task: how many flows the estimator computed per sample
  (the ground-truth flow is shared, so 4, not 6).

Usage: python benchmarks/scoring_throughput.py [--samples N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mebench.flowcache import FlowPair, FlowService
from mebench.metrics.flowmetrics import FlowBatch, build_flow_metric
from mebench.plugin_manager import get_plugin_manager
from mebench.runner import ModelChoice, Runner, RunOptions
from mebench.synthetic import generate_sample
from mebench.taskfile import TaskIndex, builtin_task_dir


def throughput(size: int, samples: int) -> dict[str, float]:
    pm = get_plugin_manager()
    spec = pm.get("flow", "opencv-dis")
    service = FlowService(spec.build({}), spec, {}, root=None)
    metrics = [build_flow_metric(n, {}) for n in ("mas", "motion_reward", "flow_epe")]
    data = [generate_sample(i, size=size) for i in range(samples)]
    flow_s = metric_s = 0.0
    for s in data:
        t0 = time.perf_counter()
        gt, pred = service.flows([FlowPair(s.source, s.target, f"{s.id}/s", f"{s.id}/t"),
                                  FlowPair(s.source, s.target, f"{s.id}/s", f"{s.id}/e")])
        t1 = time.perf_counter()
        batch = FlowBatch(pred=torch.from_numpy(pred[None]),
                          gt=torch.from_numpy(gt[None]),
                          exact=torch.from_numpy(s.flow[None]))
        for m in metrics:
            m.compute(batch)
        t2 = time.perf_counter()
        flow_s += t1 - t0
        metric_s += t2 - t1
    pairs = 2 * samples
    return {
        "pairs_per_s": round(pairs / (flow_s + metric_s), 1),
        "flow_ms_per_pair": round(1000 * flow_s / pairs, 2),
        "metric_ms_per_sample": round(1000 * metric_s / samples, 2),
    }


def _scored_run(task, models, samples: int, out: Path, cache: Path) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """Run the models; return (pairs the estimator computed, seconds)."""
    pm = get_plugin_manager()
    opts = RunOptions(task=task, dataset=task.dataset, models=models, limit=samples,
                      output=out, cache_dir=cache, progress=False)
    runner = Runner(pm, opts)
    original = runner._flow_service
    services: list[FlowService] = []

    def counting() -> FlowService:
        services.append(original())
        return services[-1]

    runner._flow_service = counting  # type: ignore[method-assign]
    t0 = time.perf_counter()
    runner.run()
    return services[0].computed, time.perf_counter() - t0


def flows_per_sample(samples: int) -> dict[str, float]:
    """Three models on one task, then the same again into a new folder with the warm cache."""
    task = TaskIndex([builtin_task_dir()]).load("motionedit-synthetic")
    models = [ModelChoice("identity"), ModelChoice("synthetic-motion", {"fraction": 0.5}),
              ModelChoice("synthetic-motion", {"fraction": -1.0})]
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        cold, cold_s = _scored_run(task, models, samples, Path(tmp) / "a", cache)
        warm, warm_s = _scored_run(task, models, samples, Path(tmp) / "b", cache)
    return {"models": 3, "samples": samples, "estimator_pairs": cold,
            "flows_per_sample": cold / samples, "naive_flows_per_sample": 6,
            "cold_cache_run_s": round(cold_s, 2), "warm_cache_estimator_pairs": warm,
            "warm_cache_run_s": round(warm_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=24)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    result = {
        "estimator": "opencv-dis (preset medium)",
        "threads": torch.get_num_threads(),
        "256x256": throughput(256, args.samples),
        "512x512": throughput(512, args.samples),
        "reuse": flows_per_sample(args.samples),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
