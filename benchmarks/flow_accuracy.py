"""Flow estimator accuracy on ``motionedit-synthetic``, whose flows are exact.

For each estimator: the end-point error (pixels) of ``F(source, target)`` against the exact flow,
and ``mas_vs_exact``, the MAS that the ground-truth model would get if the reference flow were
exact: ``MAS(Vp = F(source, target), Vg = exact)``. That is the part of MAS the estimator itself
costs. (In ``mebench run`` the ground-truth model's MAS is 100 under every deterministic estimator,
by construction: its edit is the target, so ``Vp`` and ``Vg`` are the same cached flow.) Both
overall and per category, printed as one JSON object.

Estimators: opencv-dis and opencv-farneback by default; a learned one with ``--checkpoint
NAME=PATH`` (e.g. ``raft-large=/path/raft_large_C_T_SKHT_V2-ff5fadd5.pth``); ``--include-random``
adds raft-small, raft-large (and unimatch when installed) with random weights, whose numbers are
meaningless (marked so in the JSON).

Usage: python benchmarks/flow_accuracy.py [--samples 24] [--size 256] [--checkpoint N=P]...
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch

from mebench.flowcache import FlowPair, FlowService
from mebench.metrics.motion import MotionConfig, flow_epe, motion_alignment_score
from mebench.plugin_manager import get_plugin_manager
from mebench.synthetic import generate_sample

LEARNED = ("raft-small", "raft-large", "unimatch")


def _mean(values: list[float]) -> float:
    return round(float(np.mean(values)), 4)


def evaluate(pm: Any, name: str, args: dict[str, Any], samples: list[Any], *,
             device: str | None, batch_size: int) -> dict[str, Any]:
    spec = pm.get("flow", name)
    service = FlowService(spec.build(args, device=device), spec, args, None,
                          batch_size=batch_size)
    t0 = time.perf_counter()
    flows = service.flows([FlowPair(s.source, s.target, f"{s.id}/s", f"{s.id}/t")
                           for s in samples])
    seconds = time.perf_counter() - t0
    est = torch.from_numpy(np.stack(flows))
    exact = torch.from_numpy(np.stack([s.flow for s in samples]))
    epe = flow_epe(est, exact).tolist()
    mas = motion_alignment_score(est, exact, MotionConfig()).tolist()
    categories = sorted({s.category for s in samples})
    per = {c: {"n": sum(s.category == c for s in samples),
               "epe_px": _mean([e for e, s in zip(epe, samples) if s.category == c]),
               "mas_vs_exact": _mean([m for m, s in zip(mas, samples) if s.category == c])}
           for c in categories}
    return {"args": args, "random_weights": bool(args.get("random_weights")),
            "epe_px": _mean(epe), "mas_vs_exact": _mean(mas), "seconds": round(seconds, 2),
            "by_category": per}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                        help="a learned estimator with its weights file (repeatable)")
    parser.add_argument("--include-random", action="store_true",
                        help="also the learned estimators with random weights (meaningless)")
    args = parser.parse_args()
    pm = get_plugin_manager()
    known = pm.specs("flow")
    runs: dict[str, dict[str, Any]] = {"opencv-dis": {}, "opencv-farneback": {}}
    for item in args.checkpoint:
        name, _, path = item.partition("=")
        if not path:
            parser.error(f"--checkpoint {item!r}: write NAME=PATH")
        runs[name] = {"checkpoint": path}
    if args.include_random:
        for name in LEARNED:
            if name in known and name not in runs:
                runs[f"{name} (random weights)"] = {"random_weights": True}
    samples = [generate_sample(i, size=args.size) for i in range(args.samples)]
    report: dict[str, Any] = {
        "task": "motionedit-synthetic", "samples": args.samples, "size": args.size,
        "note": "mas_vs_exact = MAS(F(source, target), exact flow): what the estimator's error "
                "alone costs the ground-truth model; random-weight rows are meaningless",
        "estimators": {},
    }
    for label, est_args in runs.items():
        name = label.split(" ")[0]
        report["estimators"][label] = evaluate(pm, name, est_args, samples, device=args.device,
                                               batch_size=args.batch_size)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
