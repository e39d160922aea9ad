"""The deterministic few-step sampler the old policy samples groups with.

The flow ODE ``dx/dt = v(x, t)`` is integrated from ``t = 1`` (noise) to ``t = 0`` on a
(optionally shifted) uniform grid with a second-order Adams-Bashforth multistep rule, one
velocity evaluation per step (the role DPM-Solver++(2M) plays in the official sampler): the first
step is an Euler step, each later one ``x += h (1 + h / (2 h')) v_i - h^2 / (2 h') v_{i-1}`` with
``h`` the current and ``h'`` the previous step. ``order=1`` gives plain Euler.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["sample_flow", "timestep_grid"]


def timestep_grid(num_steps: int, *, shift: float = 1.0) -> Tensor:
    """``num_steps + 1`` times from 1 to 0 (float64), warped as ``shift t / (1 + (shift - 1) t)``
    (the flow-matching schedulers' time shift)."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if not shift > 0:
        raise ValueError(f"shift must be > 0, got {shift!r}")
    t = torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)
    return shift * t / (1.0 + (shift - 1.0) * t)


@torch.no_grad()
def sample_flow(velocity: Callable[[Tensor, Tensor], Tensor], noise: Tensor, grid: Tensor, *,
                order: int = 2) -> Tensor:
    """Integrate ``velocity(x, t)`` (``t`` a Tensor[B]) from ``noise`` at grid[0] to grid[-1]."""
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    x = noise
    previous: tuple[Tensor, float] | None = None
    for i in range(len(grid) - 1):
        t, t_next = float(grid[i]), float(grid[i + 1])
        h = t_next - t
        v = velocity(x, torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device))
        if order == 1 or previous is None:
            x = x + h * v
        else:
            v_prev, h_prev = previous
            ratio = h / (2.0 * h_prev)
            x = x + h * ((1.0 + ratio) * v - ratio * v_prev)
        previous = (v, h)
    return x
