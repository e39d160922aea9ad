"""Built-in diffusers editors: registration only (entry point ``builtin_editors``).

Each editor of :data:`catalog.EDITORS` is registered with a factory whose keyword-only
signature lists exactly the ``--model-args`` it accepts, so mebench refuses an unknown one and
lists the others. torch and diffusers load only when a factory runs.

Arguments (all optional; defaults in :mod:`.catalog`): ``model_path`` (hub id or local diffusers
folder), ``steps``, ``guidance_scale``, ``true_cfg_scale`` (Qwen-Image-Edit, FLUX.1 Kontext) or
``image_guidance_scale`` (InstructPix2Pix, MagicBrush), ``negative_prompt`` (all but FLUX.2
[klein]), ``resolution`` (side of the output area's square), ``dtype`` (auto, float32, float16,
bfloat16), ``cpu_offload`` (none, model, sequential), ``attention_backend`` (a diffusers backend
name), ``lora``, ``lora_weight_name``, ``lora_scale`` (see :mod:`.lora`).

The adapters' ``settings()`` returns the effective settings (for run.json).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mebench.hookspecs import Register, hookimpl
from mebench.plugins.editors.catalog import EDITORS


def _build(name: str, given: dict[str, Any]) -> Any:
    from mebench.plugins.editors.adapter import DiffusersEditor
    from mebench.plugins.editors.settings import merge_settings

    spec = EDITORS[name]
    settings = merge_settings(spec.defaults, given, model_id=spec.model_id, lora=spec.lora,
                              lora_weight_name=spec.lora_weight_name)
    return DiffusersEditor(spec=spec, settings=settings)


def _cfg_factory(name: str) -> Callable[..., Any]:
    """Qwen-Image-Edit and FLUX.1 Kontext: true CFG with a negative prompt."""

    def factory(*, model_path: str | None = None, steps: int | None = None,
                guidance_scale: float | None = None, true_cfg_scale: float | None = None,
                negative_prompt: str | None = None, resolution: int | None = None,
                dtype: str | None = None, cpu_offload: str | bool | None = None,
                attention_backend: str | None = None, lora: str | None = None,
                lora_weight_name: str | None = None, lora_scale: float | None = None,
                device: str | None = None, batch_size: int | None = None) -> Any:
        return _build(name, dict(
            model_path=model_path, steps=steps, guidance_scale=guidance_scale,
            true_cfg_scale=true_cfg_scale, negative_prompt=negative_prompt,
            resolution=resolution, dtype=dtype, cpu_offload=cpu_offload,
            attention_backend=attention_backend, lora=lora, lora_weight_name=lora_weight_name,
            lora_scale=lora_scale, device=device, batch_size=batch_size))

    return factory


def _pix2pix_factory(name: str) -> Callable[..., Any]:
    """InstructPix2Pix and MagicBrush: text and image guidance."""

    def factory(*, model_path: str | None = None, steps: int | None = None,
                guidance_scale: float | None = None, image_guidance_scale: float | None = None,
                negative_prompt: str | None = None, resolution: int | None = None,
                dtype: str | None = None, cpu_offload: str | bool | None = None,
                attention_backend: str | None = None, lora: str | None = None,
                lora_weight_name: str | None = None, lora_scale: float | None = None,
                device: str | None = None, batch_size: int | None = None) -> Any:
        return _build(name, dict(
            model_path=model_path, steps=steps, guidance_scale=guidance_scale,
            image_guidance_scale=image_guidance_scale, negative_prompt=negative_prompt,
            resolution=resolution, dtype=dtype, cpu_offload=cpu_offload,
            attention_backend=attention_backend, lora=lora, lora_weight_name=lora_weight_name,
            lora_scale=lora_scale, device=device, batch_size=batch_size))

    return factory


def _guidance_factory(name: str) -> Callable[..., Any]:
    """FLUX.2 [klein]: guidance only (no negative prompt, no true CFG)."""

    def factory(*, model_path: str | None = None, steps: int | None = None,
                guidance_scale: float | None = None, resolution: int | None = None,
                dtype: str | None = None, cpu_offload: str | bool | None = None,
                attention_backend: str | None = None, lora: str | None = None,
                lora_weight_name: str | None = None, lora_scale: float | None = None,
                device: str | None = None, batch_size: int | None = None) -> Any:
        return _build(name, dict(
            model_path=model_path, steps=steps, guidance_scale=guidance_scale,
            resolution=resolution, dtype=dtype, cpu_offload=cpu_offload,
            attention_backend=attention_backend, lora=lora, lora_weight_name=lora_weight_name,
            lora_scale=lora_scale, device=device, batch_size=batch_size))

    return factory


def _negative_factory(name: str) -> Callable[..., Any]:
    """LongCat-Image-Edit: guidance with a negative prompt (no separate true CFG)."""

    def factory(*, model_path: str | None = None, steps: int | None = None,
                guidance_scale: float | None = None, negative_prompt: str | None = None,
                resolution: int | None = None, dtype: str | None = None,
                cpu_offload: str | bool | None = None, attention_backend: str | None = None,
                lora: str | None = None, lora_weight_name: str | None = None,
                lora_scale: float | None = None, device: str | None = None,
                batch_size: int | None = None) -> Any:
        return _build(name, dict(
            model_path=model_path, steps=steps, guidance_scale=guidance_scale,
            negative_prompt=negative_prompt, resolution=resolution, dtype=dtype,
            cpu_offload=cpu_offload, attention_backend=attention_backend, lora=lora,
            lora_weight_name=lora_weight_name, lora_scale=lora_scale, device=device,
            batch_size=batch_size))

    return factory


_FACTORY_OF_FAMILY: dict[str, Callable[[str], Callable[..., Any]]] = {
    "qwen-edit": _cfg_factory,
    "qwen-edit-plus": _cfg_factory,
    "flux-kontext": _cfg_factory,
    "pix2pix": _pix2pix_factory,
    "flux2-klein": _guidance_factory,
    "longcat-edit": _negative_factory,
}


@hookimpl
def mebench_register_models(register: Register) -> None:
    for name, spec in EDITORS.items():
        register(name, _FACTORY_OF_FAMILY[spec.family](name), description=spec.description)
