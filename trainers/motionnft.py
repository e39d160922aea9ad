"""The MotionNFT training loop, over any :class:`~mebench.trainers.backbone.Backbone`.

One step (REFERENCE.md, "MotionNFT training"):

1. sample ``groups_per_step`` prompts and ``group_size`` images each with the old policy (the
   ``old`` adapter), a deterministic few-step solver, keeping the clean latents;
2. decode them and compute each reward (raw values logged) and their weighted sum;
3. drop solved groups (the group filter), turn the rest into optimality rewards in [0, 1];
4. the DiffusionNFT loss at the trained times of the sampling grid, fresh noise per time, in
   micro-batches (gradients accumulated);
5. one AdamW step with gradient clipping;
6. the old adapter moves towards the trained one (decay ``min(0.001 step, 0.5)``); EMA update;
7. log a line to ``train_log.jsonl`` and checkpoint every ``checkpoint_every`` steps.

Randomness of step ``s`` comes from generators seeded by ``(seed, s)`` alone, and torch's global
RNG state (LoRA dropout) is checkpointed, so ``--resume`` continues bit for bit.

Under ``accelerate launch --multi_gpu`` / ``torchrun`` the step runs data-parallel over the ranks
(:mod:`.distributed`; launch lines for 1 node x 8 GPUs and 2 nodes in ``docs/training.md``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mebench.errors import MebenchError
from mebench.trainers import lora
from mebench.trainers.advantages import (
    combine_rewards, group_advantages, group_filter, optimality_reward,
)
from mebench.trainers.backbone import Backbone, Reward, TrainPrompt, select
from mebench.trainers.checkpoint import (
    checkpoint_dir, latest_checkpoint, load_checkpoint, save_checkpoint,
)
from mebench.trainers.distributed import TrainShard
from mebench.trainers.fsdp import shard_for_training
from mebench.trainers.nft import add_noise, nft_loss
from mebench.trainers.sampling import sample_flow, timestep_grid
from mebench.trainers.schedule import ParamEMA, old_policy_decay

if TYPE_CHECKING:
    from mebench.trainers.evaluation import TrainMonitor
    from mebench.trainers.recipe import RecipeConfig

LOG_FILE = "train_log.jsonl"


class MotionNFTTrainer:
    """Trains ``backbone``'s ``default`` adapter on ``prompts`` with ``rewards`` (by name)."""

    def __init__(self, *, config: RecipeConfig, backbone: Backbone,
                 prompts: Sequence[TrainPrompt], rewards: Mapping[str, Reward],
                 output: Path, progress: bool = True) -> None:
        if not prompts:
            raise ValueError("no training prompts")
        if set(rewards) != {r.name for r in config.rewards}:
            raise ValueError("rewards must be the recipe's rewards")
        self.config, self.backbone, self.prompts = config, backbone, prompts
        self.rewards, self.output, self.progress = dict(rewards), Path(output), progress
        self.weights = {r.name: r.weight for r in config.rewards}
        self.module = backbone.transformer
        self.device = next(self.module.parameters()).device
        if config.training.gradient_checkpointing:
            backbone.enable_gradient_checkpointing()
        self.params = lora.adapter_params(self.module, lora.DEFAULT)
        opt = config.optimizer
        self.optimizer = torch.optim.AdamW([self.params[n] for n in sorted(self.params)],
                                           lr=opt.lr, betas=opt.betas, eps=opt.eps,
                                           weight_decay=opt.weight_decay)
        self.ema = (ParamEMA(params=self.params, decay=config.ema.decay)
                    if config.ema.enabled else None)
        self.grid = timestep_grid(config.sampling.num_steps, shift=config.sampling.shift)
        self.step = 0
        self.dist = TrainShard.join(device=config.training.device,  # data-parallel ranks
                                    groups_per_step=config.sampling.groups_per_step)
        # the frozen text encoders, sharded over the ranks with FSDP2 (logged on stderr)
        self.sharded = shard_for_training(backbone, self.dist.ctx, config=config,
                                          device=self.device)
        self.monitor: TrainMonitor | None = None  # held-out eval / TensorBoard (build_trainer)

    # -- the loop --------------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """What a checkpoint records, and what ``--resume`` checks: the base model, backbone,
        recipe, and the hash of the recipe without the fields a resumed run may change
        (``max_steps``, ``checkpoint_every``, ``device``, ``cpu_threads``)."""
        return {"base_model": self.backbone.base_model, "backbone": self.config.backbone.name,
                "recipe": self.config.recipe, "resume_hash": self.config.resume_hash()}

    def train(self, *, resume: bool = False) -> Path:
        """Run to ``training.max_steps``; returns the last checkpoint's folder."""
        from tqdm.auto import tqdm

        self.output.mkdir(parents=True, exist_ok=True)
        log_path = self.output / LOG_FILE
        if resume:
            self._resume(log_path)
        elif latest_checkpoint(self.output) is not None or log_path.exists():
            raise MebenchError("the output folder already holds a training run",
                               where=str(self.output), hint="pass --resume or a new --output")
        total = self.config.training.max_steps
        last = latest_checkpoint(self.output)
        with tqdm(total=total, initial=self.step,
                  disable=not self.progress or not self.dist.is_main,
                  desc=f"train {self.config.recipe}") as bar:
            while self.step < total:
                record = self.train_step(self.step)
                if self.monitor is not None:
                    record.update(self.monitor.after_step(self, record))
                self.step += 1
                if self.dist.is_main:  # rank 0 alone logs and checkpoints
                    with log_path.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(record, sort_keys=True) + "\n")
                bar.set_postfix(reward=_short(record["reward_mean"], 3),
                                loss=_short(record["loss"], 4))
                bar.update(1)
                # 7. checkpoint
                if not self.dist.is_main:
                    last = checkpoint_dir(self.output, self.step)
                elif self.step % self.config.training.checkpoint_every == 0 or self.step == total:
                    last = save_checkpoint(
                        output=self.output, step=self.step, module=self.module,
                        optimizer=self.optimizer,
                        manifest={**self.manifest(), "recipe_hash": self.config.content_hash(),
                                  **_editor_fields(self.backbone)},
                        ema=self.ema.state_dict() if self.ema is not None else None)
        if self.monitor is not None:
            self.monitor.close()
        for reward in self.rewards.values():  # e.g. the MLLM reward's client and event loop
            closer = getattr(reward, "close", None)
            if callable(closer):
                closer()
        self.dist.barrier()  # the other ranks return once rank 0 wrote the last checkpoint
        assert last is not None
        return last

    def _resume(self, log_path: Path) -> None:
        """Restore the latest checkpoint (none: start afresh) and drop the log lines of steps
        after it (those a killed run logged but did not checkpoint)."""
        folder = latest_checkpoint(self.output)
        if folder is not None:
            state = load_checkpoint(folder, module=self.module, expect=self.manifest())
            self.optimizer.load_state_dict(state.optimizer)
            if self.ema is not None and state.ema is not None:
                self.ema.load_state_dict(state.ema)
            torch.set_rng_state(state.rng["torch"])
            if "cuda" in state.rng and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state.rng["cuda"])
            self.step = state.step
        if log_path.exists() and self.dist.is_main:
            lines = log_path.read_text(encoding="utf-8").splitlines()
            kept = [x for x in lines if _logged_step(x) < self.step]
            log_path.write_text("".join(x + "\n" for x in kept), encoding="utf-8")

    def _generator(self, step: int, stream: int) -> torch.Generator:
        seed = (self.config.training.seed * 1_000_003 + step) * 16 + stream
        return torch.Generator(device="cpu").manual_seed(seed)

    def _autocast(self) -> Any:
        precision = self.config.training.mixed_precision
        if self.device.type != "cuda" or precision == "fp32":
            return torch.autocast(self.device.type, enabled=False)
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    def train_step(self, step: int) -> dict[str, Any]:
        cfg, backbone = self.config, self.backbone
        started = time.perf_counter()
        groups, k = cfg.sampling.groups_per_step, cfg.sampling.group_size

        # 1. sample groups with the old policy
        g = self._generator(step, 0)
        order = torch.randperm(len(self.prompts), generator=g)
        chosen = [self.prompts[int(order[i % len(order)])] for i in range(groups)]
        mine = self.dist.groups(groups)  # this rank's groups (all of them in one process)
        chosen_here = [chosen[i] for i in mine]
        per_image = [p for p in chosen_here for _ in range(k)]
        with torch.no_grad(), self._autocast():
            cond = select(backbone.encode(chosen_here),
                          torch.arange(len(mine)).repeat_interleave(k))
            noise = self.dist.noise(backbone, cond, g, groups=mine, total_groups=groups,
                                    group_size=k).to(self.device)
            x0 = sample_flow(lambda x, t: backbone.velocity(x, t, cond, adapter=lora.OLD),
                             noise, self.grid.to(self.device), order=cfg.sampling.order).float()
            images = backbone.decode(x0, cond)

        # 2. rewards: each raw reward, then the weighted sum
        raw = {name: fn(per_image, images).detach().double().cpu()
               for name, fn in self.rewards.items()}
        raw = self.dist.gather_rewards(raw, groups=mine, total_groups=groups, group_size=k)
        total = combine_rewards(raw, self.weights).view(groups, k)

        # 3. group filter, advantages, optimality reward (a group with a failed reward is out)
        f = cfg.group_filter
        failed = torch.isnan(total)
        keep = ~failed.any(dim=1)
        if f.enabled:
            keep &= group_filter(total, std_below=f.std_below, mean_above=f.mean_above)
        rows = torch.arange(groups * k).view(groups, k)[keep].flatten()
        valid = total[~failed]
        record: dict[str, Any] = {
            "step": step, "reward_mean": float(valid.mean()) if valid.numel() else None,
            "reward_std": float(valid.std()) if valid.numel() > 1 else None,
            "rewards": {n: float(v.nanmean()) for n, v in raw.items()},
            "reward_failures": int(failed.sum()), "groups_kept": int(keep.sum()),
            "groups": groups}
        loss_sum: dict[str, float | None] = dict.fromkeys(("loss", "positive", "negative", "kl"))
        grad_norm: float | None = None  # None: every group was filtered out, no update
        if rows.numel():
            adv = group_advantages(total[keep], std_eps=cfg.advantages.std_eps,
                                   clip=cfg.advantages.clip)
            r = optimality_reward(adv, clip=cfg.advantages.clip).flatten().float()

            # 4. the NFT loss over the trained times, gradients accumulated over micro-batches
            picks, here = self.dist.local_rows(rows, groups=mine, group_size=k)
            loss_sum = self.dist.sum_parts(dict(self._accumulate(
                step, x0[here], select(cond, here), r[picks], rows_total=rows.numel(),
                picks=picks if self.dist.distributed else None)))
            self.dist.all_reduce_grads(self.params)

            # 5. optimiser step with gradient clipping
            grad_norm = float(torch.nn.utils.clip_grad_norm_(list(self.params.values()),
                                                             cfg.optimizer.grad_clip))
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)

        # 6. the old policy follows the trained one; EMA
        decay = old_policy_decay(step, rate=cfg.old_policy.decay_rate,
                                 cap=cfg.old_policy.decay_cap)
        lora.copy_adapter(self.module, source=lora.DEFAULT, target=lora.OLD, decay=decay)
        if self.ema is not None:
            self.ema.update(self.params)
        record.update(loss_sum, grad_norm=grad_norm, old_decay=decay,
                      lr=self.optimizer.param_groups[0]["lr"],
                      seconds=round(time.perf_counter() - started, 4))
        return record

    def _accumulate(self, step: int, x0: torch.Tensor, cond: dict[str, torch.Tensor],
                    r: torch.Tensor, *, rows_total: int | None = None,
                    picks: torch.Tensor | None = None) -> dict[str, float]:
        """``x0`` are this rank's ``picks`` among the step's ``rows_total`` trained images
        (all of them in one process): the noise is drawn for all, the loss scaled by all."""
        cfg, backbone = self.config, self.backbone
        g = self._generator(step, 1)
        times = self.grid[:-1]
        if cfg.nft.train_timesteps is not None and cfg.nft.train_timesteps < len(times):
            pick = torch.randperm(len(times), generator=g)[: cfg.nft.train_timesteps]
            times = times[pick.sort().values]
        n, mb = x0.shape[0], cfg.training.micro_batch_size
        parts = {"loss": 0.0, "positive": 0.0, "negative": 0.0, "kl": 0.0}
        count = len(times) * (n if rows_total is None else rows_total)
        for t_value in times:
            eps = torch.randn((count // len(times), *x0.shape[1:]), generator=g)
            eps = (eps if picks is None else eps[picks]).to(self.device, x0.dtype)
            for start in range(0, n, mb):
                idx = torch.arange(start, min(start + mb, n))
                c = select(cond, idx)
                t = torch.full((len(idx),), float(t_value), device=self.device)
                x_t, _ = add_noise(x0[idx.to(x0.device)], eps[idx.to(eps.device)], t)
                with self._autocast():
                    v_theta = backbone.velocity(x_t, t, c, adapter=lora.DEFAULT)
                    with torch.no_grad():
                        v_old = backbone.velocity(x_t, t, c, adapter=lora.OLD)
                        v_ref = backbone.velocity(x_t, t, c, adapter=None)
                out = nft_loss(v_theta=v_theta.float(), v_old=v_old.float(), v_ref=v_ref.float(),
                               x_t=x_t, x0=x0[idx.to(x0.device)], t=t,
                               r=r[idx].to(self.device), beta=cfg.nft.beta,
                               kl_weight=cfg.nft.kl_weight, floor=cfg.nft.weight_floor)
                share = len(idx) / count
                (out.loss * share).backward()
                parts["loss"] += float(out.loss.detach()) * share
                parts["positive"] += float(out.positive.mean()) * share
                parts["negative"] += float(out.negative.mean()) * share
                parts["kl"] += float(out.kl.mean()) * share
        return parts


def _editor_fields(backbone: Backbone) -> dict[str, str]:
    """``base_editor``, ``pipeline``, ``component`` of a diffusers backbone (the editor that loads
    its LoRA); none for the toy."""
    names = {"base_editor": "base_editor", "pipeline": "pipeline_class", "component": "component"}
    if getattr(backbone, "pipeline_class", None) is None:
        return {}
    return {key: str(getattr(backbone, attr)) for key, attr in names.items()}


def _logged_step(line: str) -> float:
    """The step of a log line; a line cut short by a kill counts as after every step."""
    try:
        return float(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return float("inf")


def _short(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
