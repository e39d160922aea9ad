"""The effective settings of a diffusers editor: defaults merged with ``--model-args``, checked.

Every value is validated here, before any weight is loaded; a wrong one is a ``ValueError`` that
names the argument, the value and what is allowed (mebench turns it into ``could not build model
'NAME': ...``). Unknown argument names never reach this module: the factories have explicit
keyword-only signatures, so mebench refuses them first and lists the accepted ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DTYPES = {"auto": "auto", "float32": "float32", "fp32": "float32", "float16": "float16",
          "fp16": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16"}
CPU_OFFLOAD = ("none", "model", "sequential")


@dataclass(frozen=True)
class EditorSettings:
    """What one editor run uses; ``asdict`` of it is what ``settings()`` reports for run.json."""

    model_path: str
    steps: int
    guidance_scale: float | None
    true_cfg_scale: float | None
    image_guidance_scale: float | None
    negative_prompt: str | None
    resolution: int | None
    dtype: str
    cpu_offload: str
    attention_backend: str | None
    lora: str | None
    lora_weight_name: str | None
    lora_scale: float
    device: str | None
    batch_size: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _scale(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"{name} must be text, got {value!r}")
    return str(value)


def _dtype(value: Any) -> str:
    key = str(value).lower()
    if key not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {value!r}")
    return DTYPES[key]


def _offload(value: Any) -> str:
    if value is None or value is False:
        return "none"
    if value is True:
        return "model"
    if str(value).lower() not in CPU_OFFLOAD:
        raise ValueError(f"cpu_offload must be one of {', '.join(CPU_OFFLOAD)} (or true/false), "
                         f"got {value!r}")
    return str(value).lower()


def _resolution(value: Any) -> int | None:
    if value is None:
        return None
    res = _positive_int("resolution", value, minimum=16)
    if res > 4096:
        raise ValueError(f"resolution must be at most 4096 (the side of a square of the output "
                         f"area), got {res}")
    return res


def merge_settings(defaults: dict[str, Any], given: dict[str, Any], *, model_id: str,
                   lora: str | None, lora_weight_name: str | None) -> EditorSettings:
    """Defaults of the catalog, overridden by the user's non-``None`` arguments, validated.

    ``given`` holds the arguments given to the factory by name (absent or ``None``: not given).
    """
    merged = {**defaults, **{k: v for k, v in given.items() if v is not None}}
    lora_ref = _text("lora", merged.get("lora", lora))
    weight = merged.get("lora_weight_name", lora_weight_name if lora_ref == lora else None)
    return EditorSettings(
        model_path=str(merged.get("model_path") or model_id),
        steps=_positive_int("steps", merged.get("steps", 28)),
        guidance_scale=_scale("guidance_scale", merged.get("guidance_scale")),
        true_cfg_scale=_scale("true_cfg_scale", merged.get("true_cfg_scale")),
        image_guidance_scale=_scale("image_guidance_scale", merged.get("image_guidance_scale")),
        negative_prompt=_text("negative_prompt", merged.get("negative_prompt")),
        resolution=_resolution(merged.get("resolution")),
        dtype=_dtype(merged.get("dtype", "auto")),
        cpu_offload=_offload(merged.get("cpu_offload")),
        attention_backend=_text("attention_backend", merged.get("attention_backend")),
        lora=lora_ref,
        lora_weight_name=_text("lora_weight_name", weight),
        lora_scale=_scale("lora_scale", merged.get("lora_scale", 1.0)) or 0.0,
        device=_text("device", merged.get("device")),
        batch_size=_positive_int("batch_size", merged.get("batch_size", 1)),
    )
