"""Two LoRA adapters on one module, through peft: the trained policy and the old (sampling) policy.

``attach_adapters`` injects two identically configured LoRA adapters, ``"default"`` (trained)
and ``"old"`` (frozen, used to sample), with peft's ``inject_adapter_in_model``, the same call
diffusers' ``add_adapter`` makes, so this works for a diffusers transformer as for the toy model.
``adapter_scope`` selects ``"default"``, ``"old"`` or no adapter (the base model) for a forward
pass and restores the trainable state afterwards (peft's ``set_adapter`` changes which
parameters require gradients). Adapters are saved in the PEFT format (``adapter_config.json`` +
``adapter_model.safetensors``, keys prefixed ``base_model.model.``) that
``PeftModel.from_pretrained`` loads.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

DEFAULT, OLD = "default", "old"
AdapterChoice = Literal["default", "old"] | None
_PREFIX = "base_model.model."


def attach_adapters(module: torch.nn.Module, *, rank: int, alpha: float,
                    target_modules: Sequence[str], dropout: float = 0.0,
                    base_model: str | None = None) -> torch.nn.Module:
    """Inject the ``default`` and ``old`` LoRA adapters; ``old`` starts as a copy of ``default``.

    Only the ``default`` adapter's parameters require gradients afterwards.
    """
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=list(target_modules), base_model_name_or_path=base_model)
    with warnings.catch_warnings():  # the second adapter is intended ("multiple adapters")
        warnings.filterwarnings("ignore", message=".*peft_config.*", category=UserWarning)
        for name in (OLD, DEFAULT):
            module = inject_adapter_in_model(config, module, adapter_name=name)
    _tuner_layers(module)  # fails if nothing matched
    copy_adapter(module, source=DEFAULT, target=OLD)
    set_trainable(module)
    return module


def _tuner_layers(module: torch.nn.Module) -> list[object]:
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in module.modules() if isinstance(m, BaseTunerLayer)]
    if not layers:
        raise ValueError("no LoRA layer in the module: target_modules matched nothing")
    return layers


def set_trainable(module: torch.nn.Module) -> None:
    """Freeze everything except the ``default`` adapter, and make ``default`` the active one."""
    for layer in _tuner_layers(module):
        layer.enable_adapters(True)  # type: ignore[attr-defined]
        layer.set_adapter(DEFAULT)  # type: ignore[attr-defined]
    for name, param in module.named_parameters():
        param.requires_grad_(f".{DEFAULT}." in name and "lora_" in name)


@contextmanager
def adapter_scope(module: torch.nn.Module, adapter: AdapterChoice) -> Iterator[None]:
    """Run forward passes with ``adapter`` (``None``: adapters disabled, the base model)."""
    if adapter not in (DEFAULT, OLD, None):
        raise ValueError(f"adapter must be 'default', 'old' or None, got {adapter!r}")
    if adapter == DEFAULT:
        yield
        return
    layers = _tuner_layers(module)
    try:
        for layer in layers:
            if adapter is None:
                layer.enable_adapters(False)  # type: ignore[attr-defined]
            else:
                layer.set_adapter(adapter)  # type: ignore[attr-defined]
        yield
    finally:
        set_trainable(module)


def adapter_params(module: torch.nn.Module, adapter: str) -> dict[str, torch.Tensor]:
    """The adapter's parameters by name with the adapter name removed (``x.lora_A.weight``)."""
    marker = f".{adapter}."
    return {name.replace(marker, "."): p for name, p in module.named_parameters()
            if "lora_" in name and marker in name}


def copy_adapter(module: torch.nn.Module, *, source: str, target: str,
                 decay: float = 0.0) -> None:
    """``target <- decay * target + (1 - decay) * source``, parameter by parameter."""
    from mebench.trainers.schedule import lerp_into

    src, dst = adapter_params(module, source), adapter_params(module, target)
    if set(src) != set(dst):
        raise ValueError(f"adapters {source!r} and {target!r} hold different parameters")
    names = sorted(src)
    lerp_into([dst[n] for n in names], [src[n] for n in names], decay)


def save_adapter(module: torch.nn.Module, adapter: str, folder: Path,
                 tensors: dict[str, torch.Tensor] | None = None) -> None:
    """Write ``adapter`` (or the given ``tensors``, same names) in the PEFT format to ``folder``."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    params = adapter_params(module, adapter) if tensors is None else tensors
    state = {_PREFIX + name: t.detach().contiguous().cpu() for name, t in params.items()}
    save_file(state, str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})
    config = module.peft_config[adapter]  # type: ignore[index]
    config_dict = config.to_dict()
    for key, value in config_dict.items():
        if isinstance(value, set):
            config_dict[key] = sorted(value)
    (folder / "adapter_config.json").write_text(json.dumps(config_dict, indent=2, sort_keys=True))


def load_adapter(module: torch.nn.Module, adapter: str, folder: Path) -> None:
    """Copy the weights of a PEFT adapter folder into ``adapter`` (same names, same shapes)."""
    import torch
    from safetensors.torch import load_file

    state = load_file(str(folder / "adapter_model.safetensors"))
    params = adapter_params(module, adapter)
    names = {k.removeprefix(_PREFIX) for k in state}
    if names != set(params):
        raise ValueError(f"{folder} holds other LoRA parameters than adapter {adapter!r}")
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(state[_PREFIX + name])
