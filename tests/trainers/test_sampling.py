"""The few-step sampler: its time grid and its order of accuracy."""

from __future__ import annotations

import math

import pytest
import torch

from mebench.trainers.sampling import sample_flow, timestep_grid


def test_grid() -> None:
    grid = timestep_grid(6)
    assert len(grid) == 7 and grid[0] == 1.0 and grid[-1] == 0.0
    assert torch.all(grid[1:] < grid[:-1])
    shifted = timestep_grid(6, shift=3.0)
    assert shifted[0] == 1.0 and shifted[-1] == 0.0 and torch.all(shifted[1:-1] > grid[1:-1])
    with pytest.raises(ValueError):
        timestep_grid(0)


def _error(steps: int, order: int) -> float:
    # dx/dt = x from t = 1 to 0: x(0) = x(1) / e
    x1 = torch.ones(1, 1, dtype=torch.float64)
    out = sample_flow(lambda x, t: x, x1, timestep_grid(steps).to(torch.float64), order=order)
    return abs(float(out) - math.exp(-1.0))


def test_second_order_converges_quadratically() -> None:
    e1 = [_error(n, 1) for n in (8, 16)]
    e2 = [_error(n, 2) for n in (8, 16)]
    assert e1[0] / e1[1] == pytest.approx(2.0, rel=0.15)  # Euler: first order
    assert e2[0] / e2[1] == pytest.approx(4.0, rel=0.25)  # the multistep rule: second order
    assert _error(6, 2) < _error(6, 1) / 3
