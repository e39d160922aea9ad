"""From a recipe to a ready trainer: the backbone, the prompts and the rewards, by name.

Backbones and datasets are looked up in small tables here: the toy backbone (``toy-blob``) and
its built-in prompts, FLUX.1 Kontext (``flux-kontext``, :mod:`.diffusers_backbone`) and
Qwen-Image-Edit (``qwen-image-edit``, :mod:`.qwen_backbone`).
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

def _toy_backbone(config: RecipeConfig) -> Backbone:
    from mebench.trainers.toy import ToyBackbone

    try:
        return ToyBackbone(size=config.dataset.resolution, seed=config.training.seed,
                           **dict(config.backbone.args))
    except (TypeError, ValueError) as exc:
        raise MebenchError(f"could not build backbone 'toy-blob': {exc}",
                           where="backbone.args") from None


def _diffusers_backbone(config: RecipeConfig, *, label: str, default_model: str,
                        build: Callable[..., Backbone]) -> Backbone:
    """A diffusers backbone from ``backbone.model`` (hub id or local pipeline folder)."""
    name = config.backbone.name
    model = config.backbone.model or default_model
    local = Path(model).expanduser()
    if (local.is_absolute() or model.startswith((".", "~"))) and not local.is_dir():
        raise MebenchError(f"no {label} pipeline folder {model}",
                           where=_where(config, "backbone.model"),
                           hint="give a folder written by save_pretrained, or a hub id")
    try:
        return build(model=str(local) if local.is_dir() else model,
                     device=config.training.device, args=dict(config.backbone.args))
    except (TypeError, ValueError) as exc:
        raise MebenchError(f"could not build backbone {name!r}: {exc}",
                           where=_where(config, "backbone.args")) from None
    except OSError as exc:  # missing files, no network for a hub id
        raise MebenchError(f"could not load the {label} pipeline {model!r}: {exc}",
                           where=_where(config, "backbone.model"),
                           hint="check the hub id or folder (and the network or HF cache)"
                           ) from None


def _flux_kontext_backbone(config: RecipeConfig) -> Backbone:
    from mebench.trainers.diffusers_backbone import build_flux_kontext

    return _diffusers_backbone(config, label="FLUX.1 Kontext",
                               default_model="black-forest-labs/FLUX.1-Kontext-dev",
                               build=build_flux_kontext)


def _qwen_image_edit_backbone(config: RecipeConfig) -> Backbone:
    from mebench.trainers.qwen_backbone import build_qwen_image_edit

    return _diffusers_backbone(config, label="Qwen-Image-Edit",
                               default_model="Qwen/Qwen-Image-Edit-2509",
                               build=build_qwen_image_edit)


def _where(config: RecipeConfig, field_path: str) -> str:
    return f"{config.path}: {field_path}" if config.path is not None else field_path


def backbone_factories() -> dict[str, Callable[[RecipeConfig], Backbone]]:
    return {"toy-blob": _toy_backbone, "flux-kontext": _flux_kontext_backbone,
            "qwen-image-edit": _qwen_image_edit_backbone}


def build_backbone(config: RecipeConfig) -> Backbone:
    """The recipe's backbone with the two LoRA adapters attached (on the training device)."""
    name = config.backbone.name
    factories = backbone_factories()
    if name not in factories:
        raise MebenchError(f"unknown backbone {name!r}", where=_where(config, "backbone.name"),
                           hint=did_you_mean(name, list(factories)))
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
    from mebench.trainers.evaluation import build_monitor

    monitor = build_monitor(config, pm=pm, output=output)
    trainer = MotionNFTTrainer(config=config, backbone=backbone, prompts=prompts,
                               rewards=rewards, output=output, progress=progress)
    trainer.monitor = monitor
    return trainer


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

