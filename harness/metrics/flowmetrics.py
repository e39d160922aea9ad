"""The per-sample metrics computed from optical flow, by name, as task files list them.

Each metric takes its task-file ``args``, checks them (unknown ones are errors naming the metric and
the accepted ones), and computes named values for a batch of flow pairs. Flows are in pixels,
``[B, 2, H, W]``, x first; ``pred = F(source, edited)``, ``gt = F(source, target)``, ``exact`` the
task's exact ground-truth flow when it has one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

from mebench.errors import MebenchError, did_you_mean
from mebench.metrics.motion import (
    MotionConfig,
    MotionTerms,
    flow_epe,
    mas_from_terms,
    motion_terms,
    reward_from_terms,
)

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class FlowBatch:
    """A batch of flow pairs; the motion terms are computed once and shared between metrics."""

    pred: torch.Tensor
    gt: torch.Tensor
    exact: torch.Tensor | None = None
    _terms: dict[tuple[Any, ...], MotionTerms] = field(default_factory=dict, repr=False,
                                                       compare=False)

    def terms(self, config: MotionConfig) -> MotionTerms:
        key = (config.variant, config.eps, config.q, config.dir_threshold, config.move_margin)
        if key not in self._terms:
            self._terms[key] = motion_terms(self.pred, self.gt, config)
        return self._terms[key]


class FlowMetric(ABC):
    """Base: ``name``, the task-file argument names mapped onto :class:`MotionConfig` fields."""

    name: ClassVar[str]
    arg_fields: ClassVar[Mapping[str, str]] = {}
    needs_exact: ClassVar[bool] = False

    def __init__(self, args: Mapping[str, Any]) -> None:
        unknown = sorted(set(args) - set(self.arg_fields))
        if unknown:
            raise MebenchError(
                f"metric {self.name!r} has no argument {unknown[0]!r}",
                where=f"metrics.{self.name}.args",
                hint=did_you_mean(unknown[0], list(self.arg_fields)),
            )
        try:
            self.config = MotionConfig(**{self.arg_fields[k]: v for k, v in args.items()})
        except (TypeError, ValueError) as exc:
            raise MebenchError(str(exc), where=f"metrics.{self.name}.args") from exc

    def settings(self) -> dict[str, Any]:
        """The effective configuration (for cache keys and run.json)."""
        return {f.name: getattr(self.config, f.name) for f in fields(self.config)}

    @abstractmethod
    def compute(self, batch: FlowBatch) -> dict[str, list[float]]: ...


_COMMON = {"variant": "variant", "eps": "eps", "q": "q", "dir_threshold": "dir_threshold"}


class MASMetric(FlowMetric):
    """Motion Alignment Score, 0-100 (REFERENCE.md; paper section 5)."""

    name = "mas"
    arg_fields = {**_COMMON, "alpha": "mas_alpha", "d_min": "mas_d_min", "d_max": "mas_d_max",
                  "rho_min": "rho_min", "static_gt_threshold": "static_gt_threshold"}

    def compute(self, batch: FlowBatch) -> dict[str, list[float]]:
        return {"mas": mas_from_terms(batch.terms(self.config), self.config).tolist()}


class MotionRewardMetric(FlowMetric):
    """The MotionNFT reward: quantised to 6 levels, and its continuous value."""

    name = "motion_reward"
    arg_fields = {**_COMMON, "move_margin": "move_margin", "w_mag": "w_mag", "w_dir": "w_dir",
                  "w_move": "w_move", "d_max": "d_max", "levels": "levels"}

    def compute(self, batch: FlowBatch) -> dict[str, list[float]]:
        reward, cont = reward_from_terms(batch.terms(self.config), self.config)
        return {"motion_reward": reward.tolist(), "motion_reward_cont": cont.tolist()}


class FlowEPEMetric(FlowMetric):
    """End-point error (pixels) of ``F(source, edited)`` against the task's exact flow."""

    name = "flow_epe"
    needs_exact = True

    def compute(self, batch: FlowBatch) -> dict[str, list[float]]:
        if batch.exact is None:
            raise MebenchError("flow_epe needs a task with exact ground-truth flow",
                               where="metrics.flow_epe", hint="use it with motionedit-synthetic")
        return {"flow_epe": flow_epe(batch.pred, batch.exact).tolist()}


FLOW_METRICS: Mapping[str, type[FlowMetric]] = {
    cls.name: cls for cls in (MASMetric, MotionRewardMetric, FlowEPEMetric)
}

# Direction of each reported value, for tables: True when higher is better.
HIGHER_IS_BETTER: Mapping[str, bool] = {
    "mas": True, "motion_reward": True, "motion_reward_cont": True, "flow_epe": False,
}


def build_flow_metric(name: str, args: Mapping[str, Any]) -> FlowMetric:
    if name not in FLOW_METRICS:
        raise MebenchError(f"unknown metric {name!r}", where="metrics",
                           hint=did_you_mean(name, list(FLOW_METRICS)))
    return FLOW_METRICS[name](args)
