"""The old policy's decay schedule and the parameter averages built on it."""

from __future__ import annotations

import pytest
import torch

from mebench.trainers.schedule import ParamEMA, lerp_into, old_policy_decay


def test_decay_schedule() -> None:
    assert [old_policy_decay(s) for s in (0, 1, 100, 499, 500, 501, 10_000)] == pytest.approx(
        [0.0, 0.001, 0.1, 0.499, 0.5, 0.5, 0.5])
    assert old_policy_decay(10, rate=0.05, cap=0.3) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        old_policy_decay(-1)


def test_lerp_and_ema() -> None:
    old, new = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 6.0])
    lerp_into([old], [new], 0.25)
    assert old.tolist() == [2.5, 5.0]  # 0.25 * old + 0.75 * new
    lerp_into([old], [new], 0.0)
    assert old.tolist() == [3.0, 6.0]  # decay 0 copies
    with pytest.raises(ValueError):
        lerp_into([old], [new], 1.5)
    ema = ParamEMA(params={"w": torch.zeros(2)}, decay=0.9)
    ema.update({"w": torch.ones(2)})
    ema.update({"w": torch.ones(2)})
    assert ema.state_dict()["w"].tolist() == pytest.approx([0.19, 0.19])
    with pytest.raises(ValueError):
        ema.update({"v": torch.ones(2)})
