"""The DiffusionNFT objective (REFERENCE.md, "MotionNFT training"), as small separate functions.

Flow matching convention: ``x_t = (1 - t) x0 + t eps`` with ``t`` in [0, 1] (t = 1 is noise), so
the target velocity is ``v = eps - x0`` and the model's clean estimate is ``x0_hat = x_t - t v``.

DiffusionNFT trains ``v_theta`` through two *implicit* policies built from it and the frozen old
policy ``v_old`` (the sampling policy):

* positive ``v+ = (1 - beta) v_old + beta v_theta``, pulled towards the data on good samples;
* negative ``v- = (1 + beta) v_old - beta v_theta``, pulled towards the data on bad samples
  (which pushes ``v_theta`` away from them).

Per sample, with optimality reward ``r`` in [0, 1]:
``loss = r * w(v+) + (1 - r) * w(v-) + kl_weight * ||v_theta - v_ref||^2``, where each policy term
is adaptively weighted in x0 space, ``w(v) = ||x0_hat(v) - x0||^2 / stopgrad(mean|x0_hat(v) - x0|)``
(the denominator floored at 1e-5), and ``v_ref`` is the base model (LoRA disabled). ``||.||^2``
is the mean over the non-batch dimensions, as in the official code. Only torch is imported.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["NFTLoss", "adaptive_x0_loss", "add_noise", "mix_policies", "nft_loss"]


def add_noise(x0: Tensor, noise: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """``(x_t, v)`` for clean ``x0``, noise ``eps`` and times ``t`` (Tensor[B] in [0, 1])."""
    if x0.shape != noise.shape:
        raise ValueError(f"x0 {tuple(x0.shape)} and noise {tuple(noise.shape)} differ in shape")
    if t.dim() != 1 or t.shape[0] != x0.shape[0]:
        raise ValueError(f"t must be Tensor[B] with B = {x0.shape[0]}, got {tuple(t.shape)}")
    tt = _per_sample(t, x0)
    return (1.0 - tt) * x0 + tt * noise, noise - x0


def mix_policies(v_theta: Tensor, v_old: Tensor, beta: float) -> tuple[Tensor, Tensor]:
    """The implicit policies ``(v+, v-)``; ``v_old`` is detached (the old policy is frozen)."""
    if v_theta.shape != v_old.shape:
        raise ValueError(f"v_theta {tuple(v_theta.shape)} and v_old {tuple(v_old.shape)} differ")
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta!r}")
    v_old = v_old.detach()
    return (1.0 - beta) * v_old + beta * v_theta, (1.0 + beta) * v_old - beta * v_theta


def adaptive_x0_loss(v: Tensor, x_t: Tensor, x0: Tensor, t: Tensor,
                     floor: float = 1e-5) -> Tensor:
    """Per-sample ``||x0_hat - x0||^2 / stopgrad(mean|x0_hat - x0|)``, x0_hat = x_t - t v."""
    err = x_t - _per_sample(t, x_t) * v - x0
    dims = tuple(range(1, err.dim()))
    with torch.no_grad():
        scale = err.detach().double().abs().mean(dims).clamp_min(floor).to(err.dtype)
    return err.pow(2).mean(dims) / scale


@dataclass(frozen=True)
class NFTLoss:
    """The loss (a scalar to backpropagate) and its parts, each a detached per-sample Tensor[B]."""

    loss: Tensor
    positive: Tensor
    negative: Tensor
    kl: Tensor


def nft_loss(*, v_theta: Tensor, v_old: Tensor, v_ref: Tensor, x_t: Tensor, x0: Tensor,
             t: Tensor, r: Tensor, beta: float = 1.0, kl_weight: float = 1e-4,
             floor: float = 1e-5) -> NFTLoss:
    """The DiffusionNFT loss, averaged over the batch (see the module docstring).

    ``r`` (Tensor[B]) is the optimality reward in [0, 1]; ``v_old`` and ``v_ref`` are detached.
    """
    if r.dim() != 1 or r.shape[0] != x0.shape[0]:
        raise ValueError(f"r must be Tensor[B] with B = {x0.shape[0]}, got {tuple(r.shape)}")
    if not (r.min() >= 0 and r.max() <= 1):
        raise ValueError("the optimality reward r must lie in [0, 1]")
    v_pos, v_neg = mix_policies(v_theta, v_old, beta)
    positive = adaptive_x0_loss(v_pos, x_t, x0, t, floor)
    negative = adaptive_x0_loss(v_neg, x_t, x0, t, floor)
    r = r.to(positive.dtype)
    dims = tuple(range(1, v_theta.dim()))
    kl = (v_theta - v_ref.detach()).pow(2).mean(dims)
    per_sample = r * positive + (1.0 - r) * negative + kl_weight * kl
    return NFTLoss(loss=per_sample.mean(), positive=positive.detach(),
                   negative=negative.detach(), kl=kl.detach())


def _per_sample(t: Tensor, like: Tensor) -> Tensor:
    """``t`` (Tensor[B]) shaped to broadcast against ``like`` ([B, ...])."""
    return t.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))
