"""The recipe as frozen dataclasses: one meaning per field; defaults are REFERENCE.md's values.

Loaded and validated by :mod:`mebench.trainers.recipe`; only the standard library is imported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mebench.taskfile.schema import to_plain


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, kw_only=True)
class BackboneConfig:
    """The model trained: a backbone name (see :mod:`mebench.trainers.build`), its weights
    (hub id or local folder; ``None``: the backbone's default) and keyword arguments."""

    name: str
    model: str | None = None
    args: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, kw_only=True)
class DatasetConfig:
    """Training prompts: hub id / parquet path / built-in generator name, split, resolution;
    ``limit``: only the first N samples (``None``: all); ``options``: a generator's options."""

    source: str
    path: str
    split: str = "train"
    resolution: int = 512
    limit: int | None = None
    options: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, kw_only=True)
class RewardConfig:
    """One reward (``motion``, ``mllm``, ``blob-target``), its weight in the sum, its arguments."""

    name: str
    weight: float
    args: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, kw_only=True)
class LoraConfig:
    rank: int = 32
    alpha: float = 64.0
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")


@dataclass(frozen=True, kw_only=True)
class SamplingConfig:
    """Old-policy sampling: ``group_size`` images for each of ``groups_per_step`` prompts."""

    num_steps: int = 6
    order: int = 2
    shift: float = 1.0
    group_size: int = 8
    groups_per_step: int = 24


@dataclass(frozen=True, kw_only=True)
class NFTConfig:
    """``train_timesteps``: how many of the sampling grid's times each sample is trained at
    (``None``: all of them)."""

    beta: float = 1.0
    kl_weight: float = 1e-4
    weight_floor: float = 1e-5
    train_timesteps: int | None = None


@dataclass(frozen=True, kw_only=True)
class AdvantageConfig:
    std_eps: float = 1e-4
    clip: float = 5.0


@dataclass(frozen=True, kw_only=True)
class GroupFilterConfig:
    enabled: bool = True
    std_below: float = 0.05
    mean_above: float = 0.9


@dataclass(frozen=True, kw_only=True)
class OldPolicyConfig:
    decay_rate: float = 0.001
    decay_cap: float = 0.5


@dataclass(frozen=True, kw_only=True)
class EMAConfig:
    enabled: bool = False
    decay: float = 0.9


@dataclass(frozen=True, kw_only=True)
class OptimizerConfig:
    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 1e-4
    eps: float = 1e-8
    grad_clip: float = 1.0


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """``max_steps`` optimiser steps (one per sampling round); a checkpoint every
    ``checkpoint_every`` steps and at the end; ``mixed_precision`` is autocast on CUDA (on the
    CPU training runs in float32); ``cpu_threads``: torch's intra-op threads while
    training (``None``: torch's default; 1 is fastest for tiny models on a shared CPU);
    ``fsdp_text_encoder``: in a distributed run, shard the backbone's frozen text encoders over
    the ranks with FSDP2 (:mod:`.fsdp`; no effect in a single process or without encoders)."""

    max_steps: int = 300
    micro_batch_size: int = 2
    mixed_precision: str = "bf16"
    gradient_checkpointing: bool = True
    seed: int = 0
    checkpoint_every: int = 10
    device: str | None = None
    cpu_threads: int | None = None
    fsdp_text_encoder: bool = True


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """Periodic evaluation on held-out prompts (:mod:`.evaluation`): every ``every`` steps
    (``None``: off) ``samples`` prompts sampled with fixed seeds by the ``adapter`` (``current``
    or ``ema``), scored with MAS and the motion reward by the flow plugin ``flow`` (``None``: the
    motion reward's flow, else ``opencv-dis``), and with ``judge`` by the recipe's MLLM reward
    (the judge's expected score) when it has one."""

    every: int | None = None
    samples: int = 4
    adapter: str = "current"
    flow: str | None = None
    flow_args: Mapping[str, Any] = field(default_factory=_empty)
    judge: bool = True


@dataclass(frozen=True, kw_only=True)
class LoggingConfig:
    """``tensorboard``: also write the log's scalars to ``OUTPUT/tensorboard`` (needs the
    ``tensorboard`` package)."""

    tensorboard: bool = False


@dataclass(frozen=True, kw_only=True)
class RecipeConfig:
    recipe: str
    version: int | str
    description: str = ""
    backbone: BackboneConfig
    dataset: DatasetConfig
    rewards: tuple[RewardConfig, ...]
    lora: LoraConfig = field(default_factory=LoraConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    nft: NFTConfig = field(default_factory=NFTConfig)
    advantages: AdvantageConfig = field(default_factory=AdvantageConfig)
    group_filter: GroupFilterConfig = field(default_factory=GroupFilterConfig)
    old_policy: OldPolicyConfig = field(default_factory=OldPolicyConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    path: Path | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Every field except ``path``, as plain JSON-able data."""
        return {f.name: to_plain(getattr(self, f.name)) for f in fields(self) if f.name != "path"}

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`to_dict`."""
        return _digest(self.to_dict())

    def resume_hash(self) -> str:
        """The content hash without the fields a resumed run may change: ``max_steps``,
        ``checkpoint_every``, ``device``, ``cpu_threads``, ``fsdp_text_encoder``, ``eval`` and
        ``logging``."""
        data = self.to_dict()
        data.pop("eval", None), data.pop("logging", None)
        data["training"] = {k: v for k, v in data["training"].items()
                            if k not in ("max_steps", "checkpoint_every", "device", "cpu_threads",
                                         "fsdp_text_encoder")}
        return _digest(data)


def _digest(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
