"""Flow estimator throughput: pairs per second at 512x512 and 1280x720, on the CPU (and CUDA).

Prints one JSON object with, for each estimator, size and device: pairs, batch size, seconds and
pairs per second (after one small warm-up call). Learned estimators (raft-small, raft-large,
unimatch when installed) run with **random weights** (``random_weights=true``: no weights can be
downloaded here; speed does not depend on the values), which the JSON says. Also:

- ``shared_source``: raft-small at 512x512 on a sample's two pairs ``(src, target)`` and
  ``(src, edited)`` in one batch, where the source is encoded once, against the same batch with a
  source that differs by one grey level (encoded twice);
- ``autocast``: raft-small at 512x512 under bf16 autocast (fp16 too on CUDA) against float32: the
  mean and max absolute flow difference in pixels, and the time.

Default run (2 CPU cores): a few pairs each; on the CPU raft-large at 1280x720 and unimatch are
skipped unless ``--full`` (each pair takes minutes there: the all-pairs correlation grows with the
square of the pixel count). Usage: python benchmarks/flow_throughput.py [--full] [--pairs N]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch
from PIL import Image

from mebench.flowcache import autocast
from mebench.plugin_manager import get_plugin_manager
from mebench.synthetic import generate_sample

SIZES = {"512x512": (512, 512), "1280x720": (1280, 720)}
LEARNED = ("raft-small", "raft-large", "unimatch")
CPU_SKIPS = {("raft-large", "1280x720"), ("unimatch", "512x512"), ("unimatch", "1280x720")}
CPU_PAIRS = {"raft-large": 1, "unimatch": 1}  # and every learned one at 1280x720


def _batch(size: tuple[int, int], n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` synthetic (source, target) pairs resized to ``size`` = (W, H), as 0-255 tensors."""
    src, dst = [], []
    for i in range(n):
        s = generate_sample(seed + i, size=256)
        for im, out in ((s.source, src), (s.target, dst)):
            arr = np.asarray(im.resize(size, Image.Resampling.BICUBIC), dtype=np.float32)
            out.append(torch.from_numpy(arr).permute(2, 0, 1))
    return torch.stack(src), torch.stack(dst)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time(est: Any, src: torch.Tensor, dst: torch.Tensor, device: str,
          dtype: str | None = None) -> tuple[float, torch.Tensor]:
    _sync(device)
    t0 = time.perf_counter()
    with autocast(est, dtype):
        out = est.estimate(src, dst)
    _sync(device)
    return time.perf_counter() - t0, out.float().cpu()


def throughput(pm: Any, name: str, device: str, pairs: int, full: bool) -> dict[str, Any]:
    args = {"random_weights": True} if name in LEARNED else {}
    est = pm.get("flow", name).build(args, device=device)
    warm = _batch((128, 128), 1)
    _time(est, *warm, device)
    result: dict[str, Any] = {"random_weights": name in LEARNED}
    for label, size in SIZES.items():
        if device == "cpu" and not full and (name, label) in CPU_SKIPS:
            result[label] = "skipped on CPU (minutes per pair on 2 cores): --full"
            continue
        n = pairs
        if device == "cpu" and name in LEARNED and (name in CPU_PAIRS or label == "1280x720"):
            n = 1
        src, dst = _batch(size, n)
        batch = n if name in LEARNED else 1  # OpenCV loops over the batch anyway
        seconds = 0.0
        for start in range(0, n, batch):
            dt, _ = _time(est, src[start:start + batch], dst[start:start + batch], device)
            seconds += dt
        result[label] = {"pairs": n, "batch": batch, "seconds": round(seconds, 3),
                         "pairs_per_s": round(n / seconds, 3)}
    return result


def shared_source(pm: Any, device: str) -> dict[str, Any]:
    est = pm.get("flow", "raft-small").build({"random_weights": True}, device=device)
    src, dst = _batch((512, 512), 2)
    edited = torch.roll(dst[:1], shifts=3, dims=-1)
    shared_src = torch.cat([src[:1], src[:1]])
    other_src = torch.cat([src[:1], (src[:1] + 1).clamp(max=255)])
    targets = torch.cat([dst[:1], edited])
    encoders = (est.model.feature_encoder, est.model.context_encoder)
    _time(est, shared_src, targets, device)  # warm-up at this size
    times: dict[str, list[float]] = {"once": [], "twice": []}
    counts: dict[str, list[int]] = {}
    for _ in range(2):  # interleaved, best of two: less sensitive to a busy machine
        for label, sources in (("once", shared_src), ("twice", other_src)):
            before = [e.images_encoded for e in encoders]
            times[label].append(_time(est, sources, targets, device)[0])
            counts[label] = [e.images_encoded - b for e, b in zip(encoders, before)]
    return {"estimator": "raft-small (random weights)", "size": "512x512", "batch": 2,
            "source_encoded_once_s": round(min(times["once"]), 3),
            "source_encoded_twice_s": round(min(times["twice"]), 3),
            "images_through_feature_and_context_encoders": counts}


def autocast_difference(pm: Any, device: str) -> dict[str, Any]:
    est = pm.get("flow", "raft-small").build({"random_weights": True}, device=device)
    src, dst = _batch((512, 512), 1)
    t32, ref = _time(est, src, dst, device)
    out: dict[str, Any] = {"estimator": "raft-small (random weights)", "size": "512x512",
                           "fp32_s": round(t32, 3),
                           "mean_abs_flow_px": round(float(ref.abs().mean()), 4)}
    for dtype in ("bf16", "fp16") if device.startswith("cuda") else ("bf16",):
        dt, flow = _time(est, src, dst, device, dtype)
        diff = (flow - ref).abs()
        out[dtype] = {"seconds": round(dt, 3), "mean_abs_diff_px": round(float(diff.mean()), 4),
                      "max_abs_diff_px": round(float(diff.max()), 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=2, help="pairs per size (on the CPU: 1 "
                        "for raft-large and unimatch, and for every learned one at 1280x720)")
    parser.add_argument("--full", action="store_true", help="no CPU skips")
    parser.add_argument("--estimators", default=None, help="comma-separated (default: all)")
    args = parser.parse_args()
    pm = get_plugin_manager()
    known = pm.specs("flow")
    names = args.estimators.split(",") if args.estimators else \
        [n for n in ("opencv-dis", "opencv-farneback", *LEARNED) if n in known]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    t0 = time.perf_counter()
    report: dict[str, Any] = {
        "note": "learned estimators use random weights (no weights reachable here); speed only",
        "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
        "devices": {d: (torch.cuda.get_device_name(0) if d == "cuda" else "cpu") for d in devices},
    }
    for device in devices:
        report[device] = {n: throughput(pm, n, device, args.pairs, args.full) for n in names}
        if "raft-small" in names:
            report[device]["shared_source"] = shared_source(pm, device)
            report[device]["autocast"] = autocast_difference(pm, device)
    report["total_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
