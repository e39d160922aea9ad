"""From a recipe to a ready trainer: the backbone, the prompts and the rewards, by name.

Backbones and datasets are looked up in small tables here. Only the toy backbone (``toy-blob``)
and its built-in prompts exist so far; the diffusers backbones (``qwen-image-edit``,
``flux-kontext``) are known names that fail with a clear error until their adapters land.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mebench.errors import MebenchError, did_you_mean

if TYPE_CHECKING:
    from mebench.plugin_manager import MebenchPluginManager
    from mebench.trainers.backbone import Backbone, TrainPrompt
    from mebench.trainers.motionnft import MotionNFTTrainer
    from mebench.trainers.recipe import RecipeConfig

_PENDING = {
    "qwen-image-edit": "Qwen-Image-Edit (QwenImageEditPlusPipeline)",
    "flux-kontext": "FLUX.1 Kontext (FluxKontextPipeline)",
}


def _toy_backbone(config: RecipeConfig) -> Backbone:
    from mebench.trainers.toy import ToyBackbone

    try:
        return ToyBackbone(size=config.dataset.resolution, seed=config.training.seed,
                           **dict(config.backbone.args))
    except (TypeError, ValueError) as exc:
        raise MebenchError(f"could not build backbone 'toy-blob': {exc}",
                           where="backbone.args") from None


def _where(config: RecipeConfig, field_path: str) -> str:
    return f"{config.path}: {field_path}" if config.path is not None else field_path


def backbone_factories() -> dict[str, Callable[[RecipeConfig], Backbone]]:
    return {"toy-blob": _toy_backbone}


def build_backbone(config: RecipeConfig) -> Backbone:
    """The recipe's backbone with the two LoRA adapters attached (on the training device)."""
    name = config.backbone.name
    factories = backbone_factories()
    if name in _PENDING:
        raise MebenchError(
            f"backbone {name!r} of recipe {config.recipe!r} cannot be trained yet: training needs "
            f"the diffusers backbone adapter for {_PENDING[name]} (prompt/image encoding, "
            "velocity with adapter selection, VAE decoding), which has not landed in mebench",
            where=_where(config, "backbone.name"),
            hint=f"trainable now: {', '.join(sorted(factories))}")
    if name not in factories:
        raise MebenchError(f"unknown backbone {name!r}", where=_where(config, "backbone.name"),
                           hint=did_you_mean(name, [*factories, *_PENDING]))
    backbone = factories[name](config)
    from mebench.trainers import lora

    lc = config.lora
    try:
        lora.attach_adapters(backbone.transformer, rank=lc.rank, alpha=lc.alpha,
                             dropout=lc.dropout, target_modules=lc.target_modules,
                             base_model=backbone.base_model)
    except ValueError as exc:
        raise MebenchError(f"cannot attach LoRA: {exc}", where="lora.target_modules") from None
    device = config.training.device
    if device is not None:
        backbone.transformer.to(device)
    return backbone


def _toy_prompts(config: RecipeConfig) -> list[TrainPrompt]:
    from mebench.trainers.toy import toy_prompts

    try:
        return toy_prompts(size=config.dataset.resolution, seed=config.training.seed,
                           **dict(config.dataset.options))
    except (TypeError, ValueError) as exc:
        raise MebenchError(f"bad toy-blob dataset options: {exc}",
                           where="dataset.options") from None


def load_prompts(config: RecipeConfig) -> Sequence[TrainPrompt]:
    ds = config.dataset
    builtins: Mapping[str, Callable[[RecipeConfig], list[TrainPrompt]]] = {
        "toy-blob": _toy_prompts}
    if ds.source != "builtin":
        from mebench.trainers.data import load_dataset_prompts

        return load_dataset_prompts(ds)
    if ds.path not in builtins:
        raise MebenchError(f"unknown built-in training dataset {ds.path!r}",
                           where="dataset.path", hint=did_you_mean(ds.path, list(builtins)))
    prompts = builtins[ds.path](config)
    return prompts if ds.limit is None else prompts[: ds.limit]


def build_trainer(config: RecipeConfig, *, output: Path, pm: MebenchPluginManager,
                  progress: bool = True) -> MotionNFTTrainer:
    """Backbone first (the check most likely to fail), then prompts and rewards."""
    import torch

    from mebench.trainers.motionnft import MotionNFTTrainer
    from mebench.trainers.rewards import build_rewards

    torch.manual_seed(config.training.seed)  # LoRA initialisation
    backbone = build_backbone(config)
    prompts = load_prompts(config)
    rewards = build_rewards(config.rewards, pm=pm, device=config.training.device)
    return MotionNFTTrainer(config=config, backbone=backbone, prompts=prompts, rewards=rewards,
                            output=output, progress=progress)


def run_recipe(config: RecipeConfig, *, output: Path, pm: MebenchPluginManager,
               resume: bool = False, progress: bool = True) -> Path:
    """Train; returns the final checkpoint folder. Writes ``recipe.json`` (the resolved recipe)."""
    import json

    import torch

    threads = torch.get_num_threads()
    if config.training.cpu_threads is not None:
        torch.set_num_threads(config.training.cpu_threads)
    try:
        trainer = build_trainer(config, output=output, pm=pm, progress=progress)
        output.mkdir(parents=True, exist_ok=True)
        (output / "recipe.json").write_text(json.dumps(config.to_dict(), indent=2,
                                                       sort_keys=True))
        return trainer.train(resume=resume)
    finally:
        torch.set_num_threads(threads)

