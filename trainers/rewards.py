"""The rewards a recipe can name, each built from its ``args`` (dispatch by name, one table).

* ``motion``: the core's 6-level MotionNFT motion reward (:func:`mebench.metrics.motion.
  motion_reward`) of ``F(source, edited)`` against ``F(source, target)``, with the flow plugin
  ``args.flow`` (its arguments ``args.flow_args``) and :class:`~mebench.metrics.motion.
  MotionConfig` settings in ``args.motion`` (e.g. ``variant: paper``). As in the official code,
  source and target are resized (bilinear) to the edited image's size first; ``F(source, target)``
  is computed once per prompt.
* ``mllm``: the judge plugin ``args.judge`` (built with ``args.model``, ``mode: expected-score``
  and ``args.judge_args``, e.g. ``base_url`` of a vLLM server) in its expected-score mode
  (REFERENCE.md: the expected digit under the first token's softmax over "0".."5", divided by
  5); NaN where the judge failed (see :class:`MLLMReward`).
* ``blob-target``: the toy's closed-form reward (:class:`mebench.trainers.toy.BlobTargetReward`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mebench.errors import MebenchError, did_you_mean

if TYPE_CHECKING:
    import torch

    from mebench.plugin_manager import MebenchPluginManager
    from mebench.trainers.backbone import Reward, TrainPrompt
    from mebench.trainers.recipe import RewardConfig


class MotionReward:
    """Raw motion reward per edited image (values in {0, 0.2, ..., 1})."""

    def __init__(self, *, flow: Any, config: Any) -> None:
        self.flow, self.config = flow, config
        self._gt: dict[tuple[str, tuple[int, int]], torch.Tensor] = {}

    def _resized(self, image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        import torch.nn.functional as F

        if tuple(image.shape[-2:]) == size:
            return image.unsqueeze(0).float()
        return F.interpolate(image.unsqueeze(0).float(), size=size, mode="bilinear",
                             align_corners=False)

    def __call__(self, prompts: Sequence[TrainPrompt], images: torch.Tensor) -> torch.Tensor:
        import torch

        from mebench.metrics.motion import motion_reward

        size = (int(images.shape[-2]), int(images.shape[-1]))
        sources = torch.cat([self._resized(p.source, size) for p in prompts])
        missing = [p for p in prompts if (p.id, size) not in self._gt]
        for p in {p.id: p for p in missing}.values():
            if p.target is None:
                raise MebenchError("the motion reward needs the ground-truth target",
                                   where=f"prompt {p.id!r}")
            src, tgt = self._resized(p.source, size), self._resized(p.target, size)
            self._gt[(p.id, size)] = self.flow.estimate(src, tgt)[0].float().cpu()
        gt = torch.stack([self._gt[(p.id, size)] for p in prompts])
        pred = self.flow.estimate(sources, images.float()).float().cpu()
        reward, _ = motion_reward(pred, gt, self.config)
        return reward


class MLLMReward:
    """The judge's expected score in [0, 1] per edited image (NaN where the judge failed).

    The judge is any registered judge built in ``expected-score`` mode: its async
    ``score(JudgeRequest)`` gives ``scores["mllm_reward"]``. Requests run concurrently, at most
    ``concurrency`` at a time. A judge never invents a score, so a failed request gives NaN,
    and the trainer leaves that prompt's group out of the step (and counts it in the log).
    """

    def __init__(self, *, judge: Any, name: str, concurrency: int = 16) -> None:
        if getattr(judge, "mode", None) != "expected-score" or not callable(
                getattr(judge, "score", None)):
            raise MebenchError(
                f"judge {name!r} has no expected-score mode, which the MLLM reward needs",
                where="rewards: mllm.args.judge",
                hint="use a judge that takes mode=expected-score (openai-compatible, openai, "
                "gemini)")
        if concurrency < 1:
            raise MebenchError(f"concurrency must be >= 1, got {concurrency}",
                               where="rewards: mllm.args.concurrency")
        self.judge, self.concurrency = judge, concurrency
        self.failures: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the client is bound to it

    def close(self) -> None:
        """Close the judge's client and the event loop (the trainer calls this at the end)."""
        if self._loop is None:
            return
        closer = getattr(self.judge, "aclose", None)
        if callable(closer):
            self._loop.run_until_complete(closer())
        self._loop.close()
        self._loop = None

    def __call__(self, prompts: Sequence[TrainPrompt], images: torch.Tensor) -> torch.Tensor:
        import torch

        from mebench.judging.types import JudgeRequest

        requests = [JudgeRequest(sample_id=f"{p.id}#{i}", instruction=p.instruction,
                                 source=_judge_image(p.source), edited=_judge_image(image))
                    for i, (p, image) in enumerate(zip(prompts, images, strict=True))]
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        results = self._loop.run_until_complete(self._score_all(requests))
        values = []
        for request, result in zip(requests, results, strict=True):
            if result.scores is None or "mllm_reward" not in result.scores:
                self.failures.append(f"{request.sample_id}: {result.error}")
                values.append(float("nan"))
            else:
                values.append(float(result.scores["mllm_reward"]))
        return torch.tensor(values, dtype=torch.float32)

    async def _score_all(self, requests: list[Any]) -> list[Any]:
        limit = asyncio.Semaphore(self.concurrency)

        async def one(request: Any) -> Any:
            async with limit:
                return await self.judge.score(request)

        return list(await asyncio.gather(*(one(r) for r in requests)))


def _judge_image(image: torch.Tensor) -> Any:
    from mebench.images import encode_png, pixel_digest
    from mebench.judging.types import JudgeImage

    pil = _pil(image)
    return JudgeImage(encode_png(pil), pixel_digest(pil))


def _pil(image: torch.Tensor) -> Any:
    from PIL import Image

    array = image.detach().float().clamp(0, 255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array)


def _motion(args: Mapping[str, Any], pm: MebenchPluginManager, device: str | None) -> Reward:
    from mebench.metrics.motion import MotionConfig

    known = {"flow", "flow_args", "motion"}
    _check_args("motion", args, known)
    flow = pm.get("flow", str(args.get("flow", "opencv-dis"))).build(
        dict(args.get("flow_args", {})), device=device)
    try:
        config = MotionConfig(**dict(args.get("motion", {})))
    except (TypeError, ValueError) as exc:
        raise MebenchError(f"bad motion settings: {exc}", where="rewards: motion.args.motion"
                           ) from None
    return MotionReward(flow=flow, config=config)


def _mllm(args: Mapping[str, Any], pm: MebenchPluginManager, device: str | None) -> Reward:
    _check_args("mllm", args, {"judge", "model", "judge_args", "concurrency"})
    name = str(args.get("judge", ""))
    judge_args = {"mode": "expected-score", **dict(args.get("judge_args", {}))}
    if args.get("model") is not None:
        judge_args.setdefault("model", args["model"])
    judge = pm.get("judge", name).build(judge_args)
    return MLLMReward(judge=judge, name=name, concurrency=int(args.get("concurrency", 16)))


def _blob_target(args: Mapping[str, Any], pm: MebenchPluginManager,
                 device: str | None) -> Reward:
    from mebench.trainers.toy import BlobTargetReward

    _check_args("blob-target", args, {"width"})
    return BlobTargetReward(**dict(args))


def _check_args(name: str, args: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(set(args) - known)
    if unknown:
        raise MebenchError(f"reward {name!r} does not take argument(s) {', '.join(unknown)}",
                           where=f"rewards: {name}.args",
                           hint=f"accepted: {', '.join(sorted(known))}")


def reward_factories() -> dict[str, Callable[[Mapping[str, Any], MebenchPluginManager,
                                              str | None], Reward]]:
    return {"motion": _motion, "mllm": _mllm, "blob-target": _blob_target}


def build_rewards(configs: Sequence[RewardConfig], *, pm: MebenchPluginManager,
                  device: str | None = None) -> dict[str, Reward]:
    """Each configured reward, built; an unknown name lists the known ones."""
    factories = reward_factories()
    built: dict[str, Reward] = {}
    for cfg in configs:
        if cfg.name not in factories:
            raise MebenchError(f"unknown reward {cfg.name!r}", where="rewards",
                               hint=did_you_mean(cfg.name, list(factories)))
        built[cfg.name] = factories[cfg.name](cfg.args, pm, device)
    return built
