"""Summary statistics for results.json: means with seeded bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

BOOTSTRAP_RESAMPLES = 1000


def bootstrap_ci(values: Sequence[float], *, seed: int, resamples: int = BOOTSTRAP_RESAMPLES,
                 level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean; ``None`` for fewer than two values."""
    data = np.asarray(values, dtype=np.float64)
    if data.size < 2:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, data.size, size=(resamples, data.size))
    means = data[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return float(lo), float(hi)


def summarise(values: Sequence[float], *, seed: int) -> dict[str, Any]:
    """``{"mean", "ci95", "std", "n"}`` rounded for stable, readable JSON."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return {"mean": None, "ci95": None, "std": None, "n": 0}
    ci = bootstrap_ci(data.tolist(), seed=seed)
    return {
        "mean": _r(data.mean()),
        "ci95": None if ci is None else [_r(ci[0]), _r(ci[1])],
        "std": _r(data.std(ddof=1)) if data.size > 1 else None,
        "n": int(data.size),
    }


def _r(x: float) -> float:
    return round(float(x), 6)
