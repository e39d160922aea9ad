"""Data-parallel MotionNFT over ranks (``accelerate launch`` / ``torchrun``), by hand.

The step of :mod:`.motionnft` is defined on the *global* batch of ``groups_per_step`` groups; with
``W`` ranks each rank samples, decodes and rewards the groups ``i`` with ``i % W == rank``, and:

* the sampling noise is drawn for the whole global batch from the step's generator (every rank
  draws the same numbers) and each rank keeps its rows, so an image gets the same noise as in a
  single process;
* the rewards of every rank are gathered (``all_gather_object``, float64 on the CPU) into the
  global ``Tensor[G, K]``, so the group filter, the *global* std of the advantages and the logged
  figures are computed identically on every rank, and equal a single process's;
* the training noise of each trained time is drawn for every kept image of the step, and each
  rank keeps its rows; each rank's loss is scaled by the *global* number of terms;
* the LoRA gradients (the only trainable parameters) are summed with ``all_reduce`` before the
  clipping and the optimiser step, so every rank applies the same update, and the old-policy and
  EMA updates (functions of the parameters) stay identical on every rank.

No DDP wrapper: the backbone calls its module with three adapter choices per micro-batch (trained,
old, none), which DDP's one-forward-one-backward bookkeeping does not fit; one ``all_reduce`` of
the flattened gradients per step does the same job. Only rank 0 writes logs and checkpoints.
The frozen text encoders are sharded over the ranks with FSDP2 right after :meth:`TrainShard.join`
(:mod:`.fsdp`, ``training.fsdp_text_encoder``); the transformer stays replicated.
Launch lines (1 node x 8 GPUs, 2 nodes) and the FSDP details: ``docs/training.md``.

The result equals a single process's up to the order of floating-point summation of the
gradients (the micro-batches differ); LoRA dropout draws from each rank's own global RNG, so with
``lora.dropout > 0`` the runs differ in the dropout masks (and a resume restores rank 0's RNG
state on every rank).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mebench.distributed import DistContext
from mebench.errors import MebenchError

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from mebench.trainers.backbone import Backbone, Cond


@dataclass(frozen=True)
class TrainShard:
    """This rank's share of a training step; a no-op in a single process."""

    ctx: DistContext

    @classmethod
    def join(cls, *, device: str | None, groups_per_step: int) -> TrainShard:
        """The launcher's context, with the process group joined when there is more than one
        rank (gloo on the CPU, NCCL on CUDA)."""
        ctx = DistContext.from_env()
        if ctx.distributed and groups_per_step < ctx.world_size:
            raise MebenchError(f"sampling.groups_per_step = {groups_per_step} is fewer than the "
                               f"{ctx.world_size} ranks", where="sampling.groups_per_step",
                               hint="give every rank at least one group, or launch fewer")
        ctx.init(device)
        return cls(ctx)

    @property
    def distributed(self) -> bool:
        return self.ctx.distributed

    @property
    def is_main(self) -> bool:
        return self.ctx.is_main

    def groups(self, total: int) -> list[int]:
        """The indices of this rank's groups among the step's ``total``."""
        return self.ctx.shard(list(range(total)))

    def noise(self, backbone: Backbone, cond: Cond, generator: torch.Generator, *,
              groups: Sequence[int], total_groups: int, group_size: int) -> Tensor:
        """This rank's sampling noise: rows of the noise of the whole step's batch."""
        if not self.distributed:
            return backbone.noise(cond, generator)
        import torch

        from mebench.trainers.backbone import select

        # a condition with the global batch's row count (rows repeated) gives the noise's shape
        shape_only = select(cond, torch.zeros(total_groups * group_size, dtype=torch.long))
        return backbone.noise(shape_only, generator)[self.rows(groups, group_size)]

    @staticmethod
    def rows(groups: Sequence[int], group_size: int) -> Tensor:
        import torch

        g = torch.as_tensor(list(groups), dtype=torch.long)
        return (g[:, None] * group_size + torch.arange(group_size)).flatten()

    def gather_rewards(self, raw: Mapping[str, Tensor], *, groups: Sequence[int],
                       total_groups: int, group_size: int) -> dict[str, Tensor]:
        """Every rank's raw rewards, in the global order of images."""
        if not self.distributed:
            return dict(raw)
        import torch
        import torch.distributed as dist

        local = {name: value.detach().double().cpu() for name, value in raw.items()}
        gathered: list[Any] = [None] * self.ctx.world_size
        dist.all_gather_object(gathered, (list(groups), local))
        out = {name: torch.full((total_groups * group_size,), float("nan"), dtype=torch.float64)
               for name in raw}
        for rank_groups, values in gathered:
            index = self.rows(rank_groups, group_size)
            for name, value in values.items():
                out[name][index] = value
        return out

    def local_rows(self, rows: Tensor, *, groups: Sequence[int],
                   group_size: int) -> tuple[Tensor, Tensor]:
        """For ``rows``, the global image indices trained this step: ``(picks, local)``, the
        positions in ``rows`` of this rank's images and their indices in this rank's batch."""
        import torch

        if not self.distributed:
            return torch.arange(rows.numel()), rows
        mine = {int(r): i for i, r in enumerate(self.rows(groups, group_size))}
        picks = [p for p, r in enumerate(rows.tolist()) if r in mine]
        local = [mine[int(rows[p])] for p in picks]
        return torch.as_tensor(picks, dtype=torch.long), torch.as_tensor(local, dtype=torch.long)

    def all_reduce_grads(self, params: Mapping[str, torch.Tensor]) -> None:
        """Sum the gradients of ``params`` over the ranks (a missing one counts as zeros)."""
        if not self.distributed:
            return
        import torch
        import torch.distributed as dist

        names = sorted(params)
        for name in names:
            if params[name].grad is None:
                params[name].grad = torch.zeros_like(params[name])
        flat = torch.cat([params[n].grad.reshape(-1) for n in names])  # type: ignore[union-attr]
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for name in names:
            grad = params[name].grad
            assert grad is not None
            grad.copy_(flat[offset: offset + grad.numel()].view_as(grad))
            offset += grad.numel()

    def sum_parts(self, parts: dict[str, float]) -> dict[str, float]:
        """The loss parts summed over the ranks (each rank's share is already scaled)."""
        if not self.distributed:
            return parts
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.ctx.world_size
        dist.all_gather_object(gathered, parts)
        return {key: sum(float(p[key]) for p in gathered) for key in parts}

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()
