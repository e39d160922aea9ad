"""The old policy's decay schedule and parameter averaging (old policy, EMA).

REFERENCE.md: after each epoch ``old <- d * old + (1 - d) * theta`` with
``d = min(0.001 * step, 0.5)``: at step 0 the old policy becomes a copy of the current one, later
it lags behind by a growing, capped amount. The same update with a fixed decay is the optional
EMA of the trained adapter that is kept for evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor

__all__ = ["ParamEMA", "lerp_into", "old_policy_decay"]


def old_policy_decay(step: int, *, rate: float = 0.001, cap: float = 0.5) -> float:
    """``min(rate * step, cap)``; ``step`` is the index of the training step just finished
    (0 for the first, so the old policy starts as an exact copy of the first update)."""
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return min(rate * step, cap)


@torch.no_grad()
def lerp_into(targets: Iterable[Tensor], sources: Iterable[Tensor], decay: float) -> None:
    """In place, pairwise: ``target <- decay * target + (1 - decay) * source``."""
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must be in [0, 1], got {decay!r}")
    pairs = list(zip(targets, sources, strict=True))
    for target, source in pairs:
        if target.shape != source.shape:
            raise ValueError(f"shapes differ: {tuple(target.shape)} and {tuple(source.shape)}")
        target.copy_(decay * target + (1.0 - decay) * source.to(target.dtype))


class ParamEMA:
    """An exponential moving average of named parameters, kept as float32 copies."""

    def __init__(self, *, params: Mapping[str, Tensor], decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay!r}")
        self.decay = decay
        self.shadow = {name: p.detach().to(torch.float32).clone() for name, p in params.items()}

    def update(self, params: Mapping[str, Tensor]) -> None:
        if set(params) != set(self.shadow):
            raise ValueError("the EMA was built over other parameters")
        names = sorted(self.shadow)
        lerp_into([self.shadow[n] for n in names], [params[n].detach() for n in names],
                  self.decay)

    def state_dict(self) -> dict[str, Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        if set(state) != set(self.shadow):
            raise ValueError("the EMA state names other parameters")
        for name, value in state.items():
            self.shadow[name].copy_(value)
