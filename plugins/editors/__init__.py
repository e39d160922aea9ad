"""Built-in diffusers editors: registration only (entry point ``builtin_editors``).

Each editor of :data:`catalog.EDITORS` is registered with a factory whose ``arguments``
attribute lists exactly the ``--model-args`` it accepts, so mebench refuses an unknown one and
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


# Every editor takes these; each family adds its own guidance arguments.
_COMMON = ("model_path", "steps", "guidance_scale", "resolution", "dtype", "cpu_offload",
           "attention_backend", "lora", "lora_weight_name", "lora_scale", "device", "batch_size")
_FAMILY_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "qwen-edit": ("true_cfg_scale", "negative_prompt"),  # true CFG with a negative prompt
    "qwen-edit-plus": ("true_cfg_scale", "negative_prompt"),
    "flux-kontext": ("true_cfg_scale", "negative_prompt"),
    "pix2pix": ("image_guidance_scale", "negative_prompt"),  # text and image guidance
    "flux2-klein": (),  # guidance only
    "longcat-edit": ("negative_prompt",),
}


def _factory(name: str) -> Callable[..., Any]:
    """The factory of editor ``name``; its ``arguments`` are what ``--model-args`` may set
    (mebench refuses any other name and lists these)."""

    def factory(**given: Any) -> Any:
        return _build(name, given)

    factory.arguments = (*_COMMON, *_FAMILY_ARGUMENTS[EDITORS[name].family])  # type: ignore[attr-defined]
    return factory


@hookimpl
def mebench_register_models(register: Register) -> None:
    for name, spec in EDITORS.items():
        register(name, _factory(name), description=spec.description)
