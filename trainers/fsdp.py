"""FSDP2 sharding of a backbone's frozen text encoders over the data-parallel ranks.

In a distributed run (``training.fsdp_text_encoder: true``, the default) each frozen text
encoder the backbone names (:func:`frozen_text_encoders`: FLUX.1 Kontext's CLIP ``text_encoder``
and T5 ``text_encoder_2``, Qwen-Image-Edit's Qwen2.5-VL ``text_encoder``) is sharded in place with
PyTorch's FSDP2 :func:`~torch.distributed.fsdp.fully_shard`: one FSDP unit per transformer block
(:func:`transformer_blocks`: the items of the outermost ``nn.ModuleList`` s, i.e. T5 blocks,
CLIP layers, Qwen2.5-VL decoder layers and vision blocks), then the encoder itself for the rest
(embeddings, final norms). Every rank then keeps ``1 / world_size`` of each encoder's weights;
a forward all-gathers one block at a time and frees it again afterwards
(``reshard_after_forward``, the root included, since nothing runs backward through them).

The modules are changed in place (their class becomes ``FSDP<Name>``), so the pipeline's
attributes (``pipe.text_encoder_2``...) and ``encode_prompt`` keep working unchanged. The
all-gathers are collectives: every rank must run each encoder's forward the same number of times.
The trainer calls ``encode`` once per rank per step on its own groups, and every rank evaluates
the same held-out prompts; since a backbone may run its encoders once per prompt
(Qwen-Image-Edit), :func:`shard_for_training` also requires ``sampling.groups_per_step`` to be a
multiple of the number of ranks, so that every rank encodes as many prompts.

Precision: on CUDA with ``training.mixed_precision: bf16`` the weights are gathered and used in
bf16 (``MixedPrecisionPolicy(param_dtype=bfloat16)``: half the traffic; the encoders then run as
under the trainer's bf16 autocast, except that embeddings and norms also use bf16 weights);
otherwise (the CPU, fp16 or fp32) they are used in the dtype they were loaded in, so the prompt
embeddings are exactly those of the unsharded encoders.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mebench.errors import MebenchError

if TYPE_CHECKING:
    import torch

    from mebench.distributed import DistContext
    from mebench.trainers.recipe_schema import RecipeConfig

__all__ = ["ShardedEncoder", "frozen_text_encoders", "shard_for_training",
           "shard_text_encoders", "transformer_blocks"]


@dataclass(frozen=True)
class ShardedEncoder:
    """One sharded encoder: ``params`` in all, ``local_params`` held by this rank."""

    name: str
    kind: str
    blocks: int
    params: int
    local_params: int

    def describe(self, ctx: DistContext) -> str:
        return (f"rank {ctx.rank}/{ctx.world_size}: FSDP sharded {self.name} ({self.kind}, "
                f"{self.blocks} blocks + root): {self.local_params} of {self.params} parameters "
                "on this rank")


def frozen_text_encoders(backbone: Any) -> dict[str, torch.nn.Module]:
    """The backbone's ``text_encoders()`` (name -> module; a ``None`` entry, an encoder the
    pipeline was loaded without, is left out), or none when it has no such method (the toy)."""
    method = getattr(backbone, "text_encoders", None)
    found = method() if callable(method) else {}
    return {name: module for name, module in found.items() if module is not None}


def transformer_blocks(module: torch.nn.Module) -> list[torch.nn.Module]:
    """The items of the outermost ``nn.ModuleList`` s under ``module`` that hold parameters (a
    list inside a listed block, like a T5 block's ``layer``, stays in its block's unit)."""
    import torch

    def walk(parent: torch.nn.Module) -> Iterator[torch.nn.Module]:
        for child in parent.children():
            if isinstance(child, torch.nn.ModuleList):
                yield from (m for m in child if next(m.parameters(), None) is not None)
            else:
                yield from walk(child)

    return list(walk(module))


def shard_text_encoders(backbone: Any, ctx: DistContext, *,
                        param_dtype: torch.dtype | None = None) -> list[ShardedEncoder]:
    """Shard each of the backbone's frozen text encoders over the ranks of the (already joined)
    default process group, in place; a no-op in a single process. ``param_dtype``: the dtype
    the gathered weights are used in (``None``: as loaded)."""
    if not ctx.distributed:
        return []
    encoders = frozen_text_encoders(backbone)
    if not encoders:
        return []
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard

    if not dist.is_initialized():
        raise RuntimeError("shard_text_encoders needs the process group joined first")
    mesh = init_device_mesh("cuda" if dist.get_backend() == "nccl" else "cpu",
                            (ctx.world_size,))
    policy = MixedPrecisionPolicy(param_dtype=param_dtype)
    done: list[ShardedEncoder] = []
    for name, encoder in encoders.items():
        if isinstance(encoder, FSDPModule):  # the same module under two names
            continue
        trainable = [n for n, p in encoder.named_parameters() if p.requires_grad]
        if trainable:
            raise ValueError(f"text encoder {name!r} is not frozen ({trainable[0]} requires "
                             "grad); only frozen encoders are sharded")
        kind = type(encoder).__name__
        encoder.eval()
        blocks = transformer_blocks(encoder)
        for block in blocks:
            fully_shard(block, mesh=mesh, mp_policy=policy, reshard_after_forward=True)
        fully_shard(encoder, mesh=mesh, mp_policy=policy, reshard_after_forward=True)
        params = list(encoder.parameters())
        done.append(ShardedEncoder(
            name=name, kind=kind, blocks=len(blocks), params=sum(p.numel() for p in params),
            local_params=sum(_local(p).numel() for p in params)))
    return done


def shard_for_training(backbone: Any, ctx: DistContext, *, config: RecipeConfig,
                       device: torch.device) -> list[ShardedEncoder]:
    """What the trainer calls right after joining the process group: shard the frozen text
    encoders when the run is distributed and ``training.fsdp_text_encoder`` is on (bf16 weights
    on CUDA under bf16 mixed precision, see the module docstring), and say so on stderr.

    A backbone may run its encoders once per prompt (Qwen-Image-Edit does), so every rank must
    encode as many prompts per step: ``sampling.groups_per_step`` must be a multiple of the
    number of ranks."""
    training = config.training
    if not training.fsdp_text_encoder or not ctx.distributed:
        return []
    if not frozen_text_encoders(backbone):
        return []
    groups = config.sampling.groups_per_step
    if groups % ctx.world_size:
        raise MebenchError(
            f"sampling.groups_per_step = {groups} is not a multiple of the {ctx.world_size} "
            "ranks: with the text encoders sharded (training.fsdp_text_encoder) every rank must "
            "encode as many prompts per step", where="sampling.groups_per_step",
            hint=f"use a multiple of {ctx.world_size}, or set training.fsdp_text_encoder=false")
    import torch

    bf16 = device.type == "cuda" and training.mixed_precision == "bf16"
    done = shard_text_encoders(backbone, ctx, param_dtype=torch.bfloat16 if bf16 else None)
    for encoder in done:
        print(f"mebench train: {encoder.describe(ctx)}", file=sys.stderr, flush=True)
    return done


def _local(param: torch.Tensor) -> torch.Tensor:
    """A DTensor's local shard (a plain tensor as is)."""
    to_local = getattr(param, "to_local", None)
    return to_local() if callable(to_local) else param
