"""Optimality rewards from hand-made groups; the group filter; the weighted reward sum."""

from __future__ import annotations

import math

import pytest
import torch

from mebench.trainers.advantages import (
    combine_rewards, group_advantages, group_filter, optimality_reward,
)


def test_advantages_use_the_group_mean_and_the_global_std() -> None:
    rewards = torch.tensor([[1.0, 0.0], [0.6, 0.4]])
    # global population std of {1, 0, 0.6, 0.4}: mean 0.5, variance (0.25+0.25+0.01+0.01)/4
    std = math.sqrt(0.13)
    adv = group_advantages(rewards, std_eps=1e-4, clip=5.0)
    expected = torch.tensor([[0.5, -0.5], [0.1, -0.1]], dtype=torch.float64) / (std + 1e-4)
    assert torch.allclose(adv, expected)
    r = optimality_reward(adv, clip=5.0)
    assert torch.allclose(r, (expected / 10 + 0.5).clamp(0, 1))


def test_clip_and_map_to_unit_interval() -> None:
    # one outlier among equal rewards: a huge advantage, clipped to +5 -> optimality 1.0
    rewards = torch.tensor([[0.0] * 7 + [1.0]] + [[0.0] * 8] * 4)  # std ~0.156: adv ~5.6
    adv = group_advantages(rewards)
    assert adv.max().item() == 5.0 and adv.min().item() > -5.0
    r = optimality_reward(adv)
    assert r.max().item() == 1.0
    assert r[1].tolist() == [0.5] * 8  # a group with equal rewards carries no preference
    assert optimality_reward(torch.tensor([-5.0, 0.0, 2.5])).tolist() == [0.0, 0.5, 0.75]


def test_group_filter_drops_only_solved_groups() -> None:
    rewards = torch.tensor([
        [1.0, 1.0, 1.0, 1.0],   # std 0, mean 1: solved, dropped
        [0.2, 0.2, 0.2, 0.2],   # std 0 but mean low: kept
        [1.0, 0.6, 1.0, 1.0],   # mean 0.9 (not > 0.9): kept
        [0.96, 0.98, 0.94, 0.92],  # std ~0.022 < 0.05 and mean 0.95: dropped
        [1.0, 0.8, 1.0, 1.0],   # mean 0.95 but std ~0.087: kept
    ])
    assert group_filter(rewards).tolist() == [False, True, True, False, True]
    assert group_filter(rewards, std_below=0.0).all()


def test_combined_reward_and_bad_shapes() -> None:
    raw = {"motion": torch.tensor([1.0, 0.2]), "mllm": torch.tensor([0.5, 0.5])}
    total = combine_rewards(raw, {"motion": 0.5, "mllm": 0.5})
    assert total.tolist() == pytest.approx([0.75, 0.35])
    with pytest.raises(ValueError, match="must match"):
        combine_rewards(raw, {"motion": 1.0})
    with pytest.raises(ValueError, match="G, K"):
        group_advantages(torch.zeros(4))
    with pytest.raises(ValueError, match="G, K"):
        group_filter(torch.zeros(3, 1))
