"""Rewards to optimality rewards: weighted sum, group filter, group-normalised advantages.

REFERENCE.md: ``adv = (r - mean over the prompt's group) / (std + 1e-4)`` with the *global* std
(over every reward of the step, population std), clipped to +-5 and mapped to [0, 1] as
``clip(adv / 10 + 0.5, 0, 1)`` (in general ``adv / (2 * clip) + 0.5``). The group filter drops a
prompt whose group is already solved: std < 0.05 and mean > 0.9 (population std).

Order used by the trainer: filter first, then compute advantages over the groups kept (a dropped
group takes no part in the global std). Rewards are ``Tensor[G, K]``: G prompts, K images each.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

__all__ = ["combine_rewards", "group_advantages", "group_filter", "optimality_reward"]


def combine_rewards(raw: Mapping[str, Tensor], weights: Mapping[str, float]) -> Tensor:
    """``sum_k weights[k] * raw[k]``; the two mappings must name the same rewards."""
    if set(raw) != set(weights) or not raw:
        raise ValueError(f"rewards {sorted(raw)} and weights {sorted(weights)} must match")
    shapes = {tuple(v.shape) for v in raw.values()}
    if len(shapes) != 1:
        raise ValueError(f"rewards differ in shape: {sorted(shapes)}")
    total = torch.zeros_like(next(iter(raw.values())), dtype=torch.float64)
    for name, value in raw.items():
        total = total + float(weights[name]) * value.to(torch.float64)
    return total


def _check_groups(rewards: Tensor) -> None:
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise ValueError(f"rewards must be Tensor[G, K] with K >= 2, got {tuple(rewards.shape)}")


def group_filter(rewards: Tensor, *, std_below: float = 0.05, mean_above: float = 0.9) -> Tensor:
    """Bool Tensor[G]: True for the groups kept (dropped: std < std_below and mean > mean_above)."""
    _check_groups(rewards)
    std = rewards.std(dim=1, unbiased=False)
    return ~((std < std_below) & (rewards.mean(dim=1) > mean_above))


def group_advantages(rewards: Tensor, *, std_eps: float = 1e-4, clip: float = 5.0) -> Tensor:
    """Tensor[G, K]: ``(r - group mean) / (global std + std_eps)``, clipped to +-clip."""
    _check_groups(rewards)
    rewards = rewards.to(torch.float64)
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    adv = centred / (rewards.std(unbiased=False) + std_eps)
    return adv.clamp(-clip, clip)


def optimality_reward(advantages: Tensor, *, clip: float = 5.0) -> Tensor:
    """Advantages in [-clip, clip] mapped to [0, 1]: ``clip(adv / (2 clip) + 0.5, 0, 1)``."""
    return (advantages / (2.0 * clip) + 0.5).clamp(0.0, 1.0)
