"""Time the motion metrics (terms + reward + MAS) per 512x512 flow pair on CPU, float32.

Run: ``python benchmarks/metric_speed.py [--pairs N] [--repeats R]``. Prints one JSON object with
the median milliseconds per pair (after a warm-up) for MAS, for the reward, and for both from
shared terms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from mebench.metrics.motion import (
    MotionConfig,
    mas_from_terms,
    motion_alignment_score,
    motion_reward,
    motion_terms,
    reward_from_terms,
)


def _median_ms(fn: Callable[[], object], repeats: int, pairs: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0 / pairs)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=1, help="pairs per call (batch size)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--variant", choices=["code", "paper"], default="code")
    parser.add_argument("--size", type=int, nargs=2, default=[512, 512], metavar=("H", "W"))
    args = parser.parse_args()
    if args.repeats < 20:
        parser.error("--repeats must be >= 20")
    gen = torch.Generator().manual_seed(0)
    h, w = args.size
    pred = torch.randn(args.pairs, 2, h, w, generator=gen) * 8.0
    gt = torch.randn(args.pairs, 2, h, w, generator=gen) * 8.0
    config = MotionConfig(variant=args.variant)

    def both() -> None:
        terms = motion_terms(pred, gt, config)
        reward_from_terms(terms, config)
        mas_from_terms(terms, config)

    with torch.inference_mode():
        result = {
            "pair_size": [h, w],
            "ms_per_pair_mas": _median_ms(
                lambda: motion_alignment_score(pred, gt, config), args.repeats, args.pairs
            ),
            "ms_per_pair_reward": _median_ms(
                lambda: motion_reward(pred, gt, config), args.repeats, args.pairs
            ),
            "ms_per_pair_both_shared_terms": _median_ms(both, args.repeats, args.pairs),
            "variant": args.variant,
            "batch": args.pairs,
            "repeats": args.repeats,
            "dtype": "float32",
            "threads": torch.get_num_threads(),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
