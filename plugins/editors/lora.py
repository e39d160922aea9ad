"""LoRA adapters and mebench checkpoints for the diffusers editors (``lora=PATH_OR_HUB_ID``).

Accepted sources (``lora=`` names a local file, a local folder or a Hub repository;
``lora_weight_name=`` picks the file inside a folder or repository):

1. **PEFT format**: a folder (or repository) holding ``adapter_config.json`` and
   ``adapter_model.safetensors`` as ``peft``'s ``save_pretrained`` writes them, with keys
   ``base_model.model.<module>.lora_A.weight``. The rank and ``lora_alpha`` of
   ``adapter_config.json`` are honoured (a LoRA trained with r 32 and alpha 64 applies at
   scale 2, as in training).
2. **diffusers format**: keys ``transformer.<module>.lora_A.weight`` (or ``unet.``), which includes
   the converted official MotionNFT LoRA (``elaine1wan/motionedit``,
   ``adapter_model_converted.safetensors``: PEFT keys renamed ``base_model.model`` ->
   ``transformer``), and the other layouts diffusers' ``load_lora_weights`` converts.
3. **a mebench checkpoint**, what ``mebench train`` writes: a PEFT-format folder (1.) plus
   ``mebench_checkpoint.json``::

       {"format": "mebench-lora", "format_version": 1,
        "base_editor": "qwen-image-edit-2509",          # the mebench editor it was trained on
        "base_model": "Qwen/Qwen-Image-Edit-2509",      # hub id or path of the base weights
        "pipeline": "QwenImageEditPlusPipeline",        # the diffusers pipeline class
        "component": "transformer",                     # the module the LoRA wraps
        "recipe": "motionnft", "step": 210}             # optional provenance

   It loads like any PEFT folder (``--model qwen-image-edit-2509 --model-args lora=DIR``), and
   loading it on an editor with another pipeline class is refused. :func:`write_manifest`
   writes the file.

``lora_scale`` multiplies the adapter's own scale (``set_adapters``); 1.0 applies it as trained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mebench.errors import MebenchError
from mebench.rundir import read_json_object

ADAPTER_NAME = "mebench"
PEFT_CONFIG = "adapter_config.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
MANIFEST = "mebench_checkpoint.json"
MANIFEST_FORMAT = "mebench-lora"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class LoraFiles:
    """A LoRA resolved to local files: the weights, the PEFT config and the mebench manifest."""

    ref: str
    weights: Path
    config: dict[str, Any] | None
    manifest: dict[str, Any] | None


def write_manifest(folder: Path, *, base_editor: str, base_model: str, pipeline: str,
                   component: str = "transformer", **provenance: Any) -> Path:
    """Write ``mebench_checkpoint.json`` into a PEFT adapter folder (for ``mebench train``)."""
    data = {"format": MANIFEST_FORMAT, "format_version": MANIFEST_VERSION,
            "base_editor": base_editor, "base_model": base_model, "pipeline": pipeline,
            "component": component, **provenance}
    path = Path(folder) / MANIFEST
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _from_folder(ref: str, folder: Path, weight_name: str | None) -> LoraFiles:
    if weight_name is None:
        candidates = sorted(folder.glob("*.safetensors"))
        default = folder / PEFT_WEIGHTS
        if default.is_file():
            weights = default
        elif len(candidates) == 1:
            weights = candidates[0]
        else:
            raise MebenchError(
                f"cannot tell which LoRA file to load in {folder} "
                f"({len(candidates)} .safetensors files)", where="--model-args lora",
                hint="name it with lora_weight_name=FILE")
    else:
        weights = folder / weight_name
    if not weights.is_file():
        raise MebenchError(f"no LoRA weights {weights}", where="--model-args lora",
                           hint="check lora= and lora_weight_name=")
    config = read_json_object(folder / PEFT_CONFIG) if (folder / PEFT_CONFIG).is_file() else None
    manifest = read_json_object(folder / MANIFEST) if (folder / MANIFEST).is_file() else None
    return LoraFiles(ref, weights, config, manifest)


def _from_hub(ref: str, weight_name: str | None) -> LoraFiles:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        weights = Path(hf_hub_download(ref, weight_name or PEFT_WEIGHTS))
    except Exception as exc:  # noqa: BLE001 - offline, missing repo or file: one clear error
        raise MebenchError(f"could not get LoRA {ref!r} ({weight_name or PEFT_WEIGHTS}): {exc}",
                           where="--model-args lora",
                           hint="give a local folder or file, or check the hub id and network"
                           ) from exc
    extras: dict[str, dict[str, Any] | None] = {}
    for name in (PEFT_CONFIG, MANIFEST):
        try:
            extras[name] = read_json_object(Path(hf_hub_download(ref, name)))
        except EntryNotFoundError:
            extras[name] = None
    return LoraFiles(ref, weights, extras[PEFT_CONFIG], extras[MANIFEST])


def resolve(ref: str, weight_name: str | None) -> LoraFiles:
    """Local file, local folder or Hub repository -> :class:`LoraFiles`."""
    path = Path(ref).expanduser()
    if path.is_file():
        return _from_folder(ref, path.parent, weight_name or path.name)
    if path.is_dir():
        return _from_folder(ref, path, weight_name)
    if path.is_absolute() or ref.startswith((".", "~")) or ref.count("/") != 1:
        raise MebenchError(f"LoRA {ref!r} is neither a local file or folder nor a hub id "
                           "(owner/name)", where="--model-args lora")
    return _from_hub(ref, weight_name)


def check_manifest(files: LoraFiles, pipeline_class: str, editor: str) -> None:
    """Refuse a mebench checkpoint trained on another pipeline, or of an unknown format."""
    m = files.manifest
    if m is None:
        return
    where = str(files.weights.parent / MANIFEST)
    if m.get("format") != MANIFEST_FORMAT or m.get("format_version") != MANIFEST_VERSION:
        raise MebenchError(f"not a {MANIFEST_FORMAT} v{MANIFEST_VERSION} checkpoint "
                           f"(format {m.get('format')!r}, version {m.get('format_version')!r})",
                           where=where)
    if m.get("pipeline") != pipeline_class:
        raise MebenchError(
            f"this checkpoint was trained on {m.get('base_editor')!r} ({m.get('pipeline')}), "
            f"not on a {pipeline_class}", where=where,
            hint=f"use --model {m.get('base_editor')} instead of {editor}")


def _peft_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """The ``LoraConfig`` fields of an ``adapter_config.json`` (other keys are PEFT bookkeeping)."""
    import dataclasses

    from peft import LoraConfig

    fields = {f.name for f in dataclasses.fields(LoraConfig)}
    drop = {"peft_type", "task_type", "base_model_name_or_path", "revision", "inference_mode"}
    return {k: v for k, v in config.items() if k in fields and k not in drop}


def load_state_dict(files: LoraFiles, component: str) -> tuple[dict[str, Any], bool]:
    """The weights with keys ``<component>.<module>...``; the flag says PEFT layout."""
    from safetensors.torch import load_file

    raw = load_file(str(files.weights))
    if not raw:
        raise MebenchError("the LoRA file holds no tensors", where=str(files.weights))
    peft_layout = files.config is not None or any(k.startswith("base_model.model.") for k in raw)
    if not peft_layout:
        return raw, False
    state: dict[str, Any] = {}
    for key, value in raw.items():
        key = key.removeprefix("base_model.model.").replace(".default.", ".")
        if not key.startswith(f"{component}."):
            key = f"{component}.{key}"
        state[key] = value
    return state, True


def apply_lora(pipe: Any, files: LoraFiles, *, component: str, scale: float) -> dict[str, Any]:
    """Load the LoRA into ``pipe`` at ``scale``; returns what run.json records about it."""
    state, peft_layout = load_state_dict(files, component)
    try:
        if peft_layout:
            metadata = None
            if files.config is not None:  # diffusers expects the keys under the prefix
                metadata = {f"{component}.{k}": v for k, v in _peft_kwargs(files.config).items()}
            getattr(pipe, component).load_lora_adapter(
                state, prefix=component, adapter_name=ADAPTER_NAME, metadata=metadata)
        else:
            pipe.load_lora_weights(state, adapter_name=ADAPTER_NAME)
        pipe.set_adapters([ADAPTER_NAME], adapter_weights=[scale])
    except (ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise MebenchError(f"could not load LoRA {files.ref!r}: {exc}", where=str(files.weights),
                           hint="is it a LoRA of this editor's base model?") from exc
    loaded = [n for n, _ in getattr(pipe, component).named_modules() if n.endswith("lora_A")]
    if not loaded:
        raise MebenchError(f"LoRA {files.ref!r} matched no module of the {component}",
                           where=str(files.weights), hint="is it a LoRA of this base model?")
    info: dict[str, Any] = {"ref": files.ref, "file": files.weights.name, "scale": scale,
                            "format": "peft" if peft_layout else "diffusers",
                            "layers": len(loaded)}
    if files.config is not None:
        info.update(r=files.config.get("r"), lora_alpha=files.config.get("lora_alpha"))
    if files.manifest is not None:
        info["checkpoint"] = files.manifest
    return info
