"""Generation sharded over ranks under ``torchrun`` / ``accelerate launch``.

Both launchers set ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them (or with
``WORLD_SIZE=1``) everything here is a no-op and torch.distributed is never touched. With more than
one rank, for each model:

1. rank 0 takes the run-directory lock (``flock``; it holds it until the results are written),
   checks the directory and writes ``run.json``; the others wait for its verdict
   (:meth:`DistContext.agree`), so no rank writes into a directory rank 0 refused or has not
   claimed yet;
2. every rank generates its slice, the samples whose dataset index ``i`` has
   ``i % world_size == rank`` (stable across restarts, whatever is already done), into the same
   ``outputs/`` folder, one atomic file per sample;
3. the ranks exchange their per-sample failures and any error (:meth:`DistContext.agree`), so a
   rank that raised stops all of them instead of leaving them waiting;
4. rank 0 alone scores, aggregates and writes ``samples.jsonl`` and ``results.json``; the others
   wait for its verdict (:meth:`DistContext.agree` again) and then read ``results.json``.

A killed rank makes the launcher stop the others; the same command run again resumes, since an
output on disk is a finished sample (with any number of ranks: the world size is not part of the
run directory's identity). ``accelerate launch --multi_gpu`` starts its processes through the same
launcher as ``torchrun``; ``accelerate launch --cpu`` on one machine starts a single process.

The process group uses NCCL when the run's device is CUDA (each rank on ``cuda:LOCAL_RANK``) and
gloo otherwise. The timeout of its collectives, ``$MEBENCH_DIST_TIMEOUT`` seconds (default 6
hours), must cover rank 0's scoring, which the other ranks wait out.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from mebench.errors import MebenchError

T = TypeVar("T")
TIMEOUT_ENV = "MEBENCH_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 6 * 3600


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job: ``rank`` of ``world_size``, ``local_rank`` on its host."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DistContext:
        """Read ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``; absent means a single process."""
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for name, default in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", None)):
            text = env.get(name)
            if text is None or text == "":
                values[name] = values.get("RANK", 0) if default is None else default
                continue
            try:
                values[name] = int(text)
            except ValueError:
                raise MebenchError(f"${name} is {text!r}, not an integer",
                                   where="environment", hint="launch with torchrun or accelerate "
                                   "launch, or unset it") from None
        ctx = cls(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])
        if ctx.world_size < 1 or not 0 <= ctx.rank < ctx.world_size or ctx.local_rank < 0:
            raise MebenchError(f"RANK={ctx.rank}, LOCAL_RANK={ctx.local_rank} and "
                               f"WORLD_SIZE={ctx.world_size} do not fit together",
                               where="environment")
        return ctx

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's slice: the items whose index ``i`` has ``i % world_size == rank``."""
        return list(items[self.rank::self.world_size])

    def device(self, requested: str | None) -> str | None:
        """The device of this rank: ``cuda`` (or nothing, on a CUDA machine) becomes
        ``cuda:LOCAL_RANK`` under a launcher; anything else is kept."""
        if not self.distributed or requested not in (None, "cuda"):
            return requested
        import torch

        return f"cuda:{self.local_rank}" if torch.cuda.is_available() else requested

    # -- collectives (only when distributed) ------------------------------------------------------

    def init(self, device: str | None) -> None:
        """Join the process group (once per process): NCCL for CUDA, gloo for the CPU."""
        if not self.distributed:
            return
        import datetime

        import torch
        import torch.distributed as dist

        if dist.is_initialized():
            return
        rank_device = self.device(device)
        backend = "nccl" if rank_device and rank_device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(self.local_rank)
        seconds = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
        dist.init_process_group(backend=backend, rank=self.rank, world_size=self.world_size,
                                timeout=datetime.timedelta(seconds=seconds))

    def agree(self, value: Any, error: BaseException | None = None) -> list[Any]:
        """Every rank's ``value``, by rank; if any rank passes an ``error``, every rank raises.

        The rank that failed re-raises its own error; the others raise a MebenchError naming it.
        """
        if not self.distributed:
            if error is not None:
                raise error
            return [value]
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world_size
        message = None if error is None else f"{type(error).__name__}: {error}"
        dist.all_gather_object(gathered, (value, message))
        if error is not None:
            raise error
        failed = [(r, m) for r, (_, m) in enumerate(gathered) if m is not None]
        if failed:
            rank, message = failed[0]
            raise MebenchError(f"rank {rank} failed: {message}", where=f"rank {self.rank}",
                               hint=f"see rank {rank}'s error above")
        return [v for v, _ in gathered]



def context() -> DistContext:
    """The context of this process, from the environment the launcher set."""
    return DistContext.from_env()


def shutdown() -> None:
    """Leave the process group if this process joined one (called when the CLI exits)."""
    if "torch.distributed" not in sys.modules:  # never import torch just to find out
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def launched(environ: Mapping[str, str] | None = None) -> Iterator[DistContext]:
    """Around a CLI invocation. Under a launcher: the rank's GPU becomes the current CUDA device
    (before any model or flow estimator is built), only rank 0 prints the summary to stdout
    (every rank still reports errors and progress on stderr), and the process group is left at
    the end."""
    try:
        ctx = DistContext.from_env(environ)
    except MebenchError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if ctx.distributed:
        import torch

        if torch.cuda.is_available():  # "cuda" means this rank's GPU from here on
            torch.cuda.set_device(ctx.local_rank)
    try:
        if ctx.distributed and not ctx.is_main:
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                yield ctx
        else:
            yield ctx
    finally:
        if ctx.distributed:
            shutdown()
        sys.stdout.flush()
