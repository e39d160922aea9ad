"""Periodic evaluation on held-out prompts, optional TensorBoard scalars, the ``eval_mas.png`` plot.

Held-out prompts (:func:`heldout_prompts`) are never trained on:

* the toy (``builtin`` ``toy-blob``): the seeded generator's prompts ``N .. N+K-1`` where ``N``
  is the number of training prompts (the generator is sequential, so the first ``N`` are exactly
  the training prompts and the next ``K`` are new ones);
* a dataset: the ``K`` rows after ``dataset.limit`` (which must then be set).

Every ``eval.every`` steps (and after the last) :class:`TrainMonitor` samples each held-out prompt
once, with noise from a fixed seed (the same at every evaluation), by the ``current`` (``default``)
adapter or the EMA weights, and scores it against its target with the flow plugin: MAS
(:func:`mebench.metrics.motion.motion_alignment_score`) and the motion reward; with ``eval.judge``
(default on) and an MLLM reward in the recipe, also by that reward's judge (expected score). The
fields ``eval_mas``, ``eval_motion_reward``, ``eval_mllm``, ``eval_mllm_failed``,
``eval_updates`` (optimiser steps done) go into that step's log line. At the end
:func:`plot_eval_curve` draws ``eval_mas.png`` from ``train_log.jsonl``.
Data-parallel, every rank evaluates (the same prompts and noise), rank 0 alone writes the plot
and the TensorBoard events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mebench.errors import MebenchError

if TYPE_CHECKING:
    import torch

    from mebench.plugin_manager import MebenchPluginManager
    from mebench.trainers.backbone import TrainPrompt
    from mebench.trainers.motionnft import MotionNFTTrainer
    from mebench.trainers.recipe import RecipeConfig

PLOT_FILE = "eval_mas.png"
TENSORBOARD_DIR = "tensorboard"
EVAL_SEED_OFFSET = 7_919  # the held-out noise seed is training.seed + this, at every evaluation


def heldout_prompts(config: RecipeConfig) -> list[TrainPrompt]:
    """``eval.samples`` prompts the run does not train on (see the module docstring)."""
    from mebench.trainers.build import load_prompts

    ds, k = config.dataset, config.eval.samples
    where = f"{config.path}: dataset.limit" if config.path is not None else "dataset.limit"
    if ds.source == "builtin" and ds.path == "toy-blob":
        from mebench.trainers.toy import toy_prompts

        options = dict(ds.options)
        n = min(int(options.pop("num_prompts", 8)), ds.limit or 10**9)
        made = toy_prompts(num_prompts=n + k, size=ds.resolution, seed=config.training.seed,
                           **options)[n:]
        return [_renamed(p, f"heldout-{p.id}") for p in made]
    if ds.limit is None:
        raise MebenchError("evaluation needs held-out prompts, but the run trains on the whole "
                           "dataset", where=where,
                           hint="set dataset.limit: the rows after it are held out")
    rows = load_prompts(_unlimited(config))
    picked = [rows[i] for i in range(ds.limit, min(ds.limit + k, len(rows)))]
    if not picked:
        raise MebenchError(f"the dataset has no rows after dataset.limit={ds.limit} to hold out",
                           where=where, hint="lower dataset.limit")
    return picked


def _renamed(prompt: TrainPrompt, new_id: str) -> TrainPrompt:
    import dataclasses

    return dataclasses.replace(prompt, id=new_id)


def _unlimited(config: RecipeConfig) -> RecipeConfig:
    import dataclasses

    return dataclasses.replace(config, dataset=dataclasses.replace(config.dataset, limit=None))


def _eval_flow(config: RecipeConfig) -> tuple[str, dict[str, Any]]:
    """``eval.flow``, else the motion reward's flow (and its args), else ``opencv-dis``."""
    if config.eval.flow is not None:
        return config.eval.flow, dict(config.eval.flow_args)
    for reward in config.rewards:
        if reward.name == "motion":
            return (str(reward.args.get("flow", "opencv-dis")),
                    {**dict(reward.args.get("flow_args", {})), **dict(config.eval.flow_args)})
    return "opencv-dis", dict(config.eval.flow_args)


def _check_tensorboard() -> None:
    """A clear error when the ``tensorboard`` package is not installed."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise MebenchError("TensorBoard logging needs the 'tensorboard' package, which is not "
                           "installed", where="logging.tensorboard",
                           hint="pip install tensorboard, or set logging.tensorboard: false")


def _summary_writer(folder: Path) -> Any:
    """A TensorBoard ``SummaryWriter`` writing into ``folder``."""
    _check_tensorboard()
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(folder))


class TrainMonitor:
    """What the trainer calls around its steps: held-out evaluation and TensorBoard scalars."""

    def __init__(self, *, config: RecipeConfig, heldout: Sequence[TrainPrompt], flow: Any,
                 output: Path) -> None:
        from mebench.metrics.motion import MotionConfig

        self.config, self.heldout, self.flow = config, list(heldout), flow
        self.output = Path(output)
        self.motion = MotionConfig()
        if config.logging.tensorboard:
            _check_tensorboard()  # fail before training starts
        self.writer: Any = None  # created on the first step, on the main rank only
        self.is_main = True  # data-parallel: every rank evaluates, rank 0 alone writes
        self._gt: Any = None  # F(source, target) of the held-out prompts, computed once

    def after_step(self, trainer: MotionNFTTrainer, record: Mapping[str, Any]) -> dict[str, Any]:
        """Fields to add to the step's log line (evaluation, when due); writes TensorBoard."""
        done, every = int(record["step"]) + 1, self.config.eval.every
        self.is_main = bool(getattr(getattr(trainer, "dist", None), "is_main", True))
        extra: dict[str, Any] = {}
        if every is not None and (done % every == 0 or done == self.config.training.max_steps):
            extra = self.evaluate(trainer)
            extra["eval_updates"] = done
        if self.config.logging.tensorboard and self.is_main and self.writer is None:
            self.writer = _summary_writer(self.output / TENSORBOARD_DIR)
        if self.writer is not None:
            for key, value in _scalars({**record, **extra}):
                self.writer.add_scalar(key, value, global_step=done)
            self.writer.flush()
        return extra

    def evaluate(self, trainer: MotionNFTTrainer) -> dict[str, Any]:
        """Mean MAS and motion reward of the held-out prompts, each sampled once."""
        import torch

        from mebench.metrics.motion import mas_from_terms, motion_terms, reward_from_terms
        from mebench.trainers import lora
        from mebench.trainers.sampling import sample_flow

        backbone, prompts = trainer.backbone, self.heldout
        g = torch.Generator(device="cpu").manual_seed(
            self.config.training.seed + EVAL_SEED_OFFSET)
        with torch.no_grad(), self._weights(trainer), trainer._autocast():
            cond = backbone.encode(prompts)
            noise = backbone.noise(cond, g).to(trainer.device)
            x0 = sample_flow(lambda x, t: backbone.velocity(x, t, cond, adapter=lora.DEFAULT),
                             noise, trainer.grid.to(trainer.device),
                             order=self.config.sampling.order).float()
            images = backbone.decode(x0, cond).float()
            sources = torch.stack([_resized(p.source, images.shape[-2:]) for p in prompts])
            if self._gt is None:
                targets = torch.stack([_resized(p.target, images.shape[-2:]) for p in prompts])
                self._gt = self.flow.estimate(sources, targets).float().cpu()
            pred = self.flow.estimate(sources, images).float().cpu()
        terms = motion_terms(pred, self._gt, self.motion)
        mas = mas_from_terms(terms, self.motion)
        reward, _ = reward_from_terms(terms, self.motion)
        return {"eval_mas": float(mas.mean()), "eval_mas_std": float(mas.std()) if len(mas) > 1
                else 0.0, "eval_motion_reward": float(reward.mean()),
                **self._judged(trainer, images)}

    def _judged(self, trainer: MotionNFTTrainer, images: torch.Tensor) -> dict[str, Any]:
        """``eval_mllm``: the mean expected score of the MLLM reward's judge over the held-out
        images it scored (``None`` when it scored none), and ``eval_mllm_failed``. Asked by the
        main rank only (the other ranks write no log)."""
        import torch

        judge = trainer.rewards.get("mllm") if self.config.eval.judge else None
        if judge is None or not self.is_main:
            return {}
        scores = judge(self.heldout, images)
        failed = torch.isnan(scores)
        scored = scores[~failed]
        return {"eval_mllm": float(scored.mean()) if len(scored) else None,
                "eval_mllm_failed": int(failed.sum())}

    @contextmanager
    def _weights(self, trainer: MotionNFTTrainer) -> Iterator[None]:
        """The ``default`` adapter as is, or (``adapter: ema``) holding the EMA weights."""
        if self.config.eval.adapter != "ema" or trainer.ema is None:
            yield
            return
        saved = {n: p.detach().clone() for n, p in trainer.params.items()}
        for name, param in trainer.params.items():
            param.data.copy_(trainer.ema.shadow[name].to(param.dtype))
        try:
            yield
        finally:
            for name, param in trainer.params.items():
                param.data.copy_(saved[name])

    def close(self) -> None:
        """Draw ``eval_mas.png`` (when evaluation ran) and close the TensorBoard writer."""
        if self.writer is not None:
            self.writer.close()
        if self.config.eval.every is not None and self.is_main:
            plot_eval_curve(self.output / "train_log.jsonl", self.output / PLOT_FILE,
                            title=f"{self.config.recipe}: held-out MAS "
                                  f"({len(self.heldout)} prompts)")


def _resized(image: torch.Tensor | None, size: Any) -> torch.Tensor:
    import torch.nn.functional as F

    if image is None:
        raise MebenchError("held-out evaluation needs each prompt's target image",
                           where="eval", hint="use a dataset with targets")
    if tuple(image.shape[-2:]) == tuple(size):
        return image.float()
    return F.interpolate(image.unsqueeze(0).float(), size=tuple(size), mode="bilinear",
                         align_corners=False)[0]


def _scalars(record: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    for key, value in record.items():
        if isinstance(value, Mapping):
            yield from _scalars(value, f"{prefix}{key}/")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and key != "step":
            yield f"{prefix}{key}", float(value)


def build_monitor(config: RecipeConfig, *, pm: MebenchPluginManager,
                  output: Path) -> TrainMonitor | None:
    """The run's monitor, or ``None`` when neither evaluation nor TensorBoard is asked for."""
    if config.eval.every is None and not config.logging.tensorboard:
        return None
    heldout: list[TrainPrompt] = []
    flow = None
    if config.eval.every is not None:
        heldout = heldout_prompts(config)
        name, args = _eval_flow(config)
        flow = pm.get("flow", name).build(args, device=config.training.device)
    return TrainMonitor(config=config, heldout=heldout, flow=flow, output=output)


def read_eval_curve(log: Path, key: str = "eval_mas") -> list[tuple[int, float]]:
    """``(eval_updates, value of key)`` of the log lines that carry an evaluation."""
    points = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get(key) is not None:
            points.append((int(record["eval_updates"]), float(record[key])))
    return points


def plot_eval_curve(log: Path, out: Path, *, title: str) -> Path:
    """A PNG of held-out MAS (0-100, blue) against training steps, drawn with PIL, with the
    judge's mean expected score times 100 (orange) when the evaluation has it."""
    from PIL import Image, ImageDraw

    points = read_eval_curve(log)
    judged = [(s, 100.0 * v) for s, v in read_eval_curve(log, "eval_mllm")]
    width, height, left, right, top, bottom = 640, 400, 60, 20, 40, 50
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    x_max = max([p[0] for p in points] + [1])
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(step: float, mas: float) -> tuple[float, float]:
        return left + plot_w * step / x_max, top + plot_h * (1.0 - mas / 100.0)

    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for mas in range(0, 101, 20):
        y = xy(0, mas)[1]
        draw.line([left, y, width - right, y], fill=(225, 225, 225))
        draw.text((left - 30, y - 6), f"{mas}", fill="black")
    for i in range(6):
        step = x_max * i / 5
        x = xy(step, 0)[0]
        draw.text((x - 8, height - bottom + 6), f"{step:.0f}", fill="black")
    draw.text((left, 12), title, fill="black")
    draw.text((width // 2 - 40, height - 22), "training step", fill="black")
    draw.text((4, top - 22), "MAS", fill=(31, 119, 180))
    if judged:
        draw.text((44, top - 22), "MLLM x100", fill=(255, 127, 14))
    for series, colour in ((points, (31, 119, 180)), (judged, (255, 127, 14))):
        coords = [xy(s, m) for s, m in series]
        if len(coords) > 1:
            draw.line(coords, fill=colour, width=2)
        for x, y in coords:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    return out
