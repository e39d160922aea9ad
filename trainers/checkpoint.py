"""Training checkpoints: the LoRA adapters (PEFT format), optimiser, step and RNG states.

``<output>/checkpoints/step-000010/`` holds

* ``adapter_config.json`` + ``adapter_model.safetensors``: the trained adapter, loadable with
  ``PeftModel.from_pretrained(base, folder)``;
* ``old/``: the old (sampling) policy's adapter; ``ema/``: the EMA adapter, when enabled;
* ``optimizer.pt`` (the optimiser's state dict), ``rng.pt`` (torch's CPU and CUDA RNG states);
* ``mebench_checkpoint.json``: the base model, backbone, recipe and its hash, the step; for a
  diffusers backbone also the editor fields (``base_editor``, ``pipeline``, ``component``), written
  with the editors' :func:`~mebench.plugins.editors.lora.write_manifest`, so that
  ``mebench run --model <base_editor> --model-args lora=<checkpoint>`` loads the trained LoRA.

A checkpoint is written to a temporary folder and renamed into place, so a killed run never
leaves a half-written one that ``--resume`` would pick up.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mebench.errors import MebenchError

if TYPE_CHECKING:
    import torch

MANIFEST = "mebench_checkpoint.json"
FORMAT = 1


@dataclass(frozen=True)
class TrainState:
    """What a checkpoint restores besides the adapters."""

    step: int
    optimizer: dict[str, Any]
    rng: dict[str, Any]
    ema: dict[str, torch.Tensor] | None


def checkpoint_dir(output: Path, step: int) -> Path:
    return output / "checkpoints" / f"step-{step:06d}"


def save_checkpoint(*, output: Path, step: int, module: torch.nn.Module,
                    optimizer: torch.optim.Optimizer, ema: dict[str, torch.Tensor] | None,
                    manifest: dict[str, Any]) -> Path:
    import torch

    from mebench.trainers.lora import DEFAULT, OLD, save_adapter

    final = checkpoint_dir(output, step)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_adapter(module, DEFAULT, tmp)
    save_adapter(module, OLD, tmp / "old")
    if ema is not None:
        save_adapter(module, DEFAULT, tmp / "ema", tensors=ema)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    rng: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(rng, tmp / "rng.pt")
    info = {"format": FORMAT, "step": step, **manifest,
            "adapters": {"default": ".", "old": "old", "ema": "ema" if ema is not None else None}}
    if "pipeline" in info:  # an editor's LoRA: the editors' manifest format
        from mebench.plugins.editors.lora import write_manifest

        del info["format"]
        write_manifest(tmp, **info)
    else:
        (tmp / MANIFEST).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def latest_checkpoint(output: Path) -> Path | None:
    """The complete checkpoint with the highest step under ``output``, if any."""
    folder = output / "checkpoints"
    if not folder.is_dir():
        return None
    done = [p for p in folder.glob("step-*") if (p / MANIFEST).is_file()
            and not p.name.endswith(".tmp")]
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        info: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MebenchError(f"unreadable checkpoint manifest: {exc}", where=str(folder)) from None
    return info


def load_checkpoint(folder: Path, *, module: torch.nn.Module,
                    expect: dict[str, Any]) -> TrainState:
    """Load the adapters into ``module`` and return the rest; ``expect`` must match the manifest
    (base model, backbone, recipe hash), else resuming would mix two trainings."""
    import torch

    from mebench.trainers.lora import DEFAULT, OLD, load_adapter

    info = read_manifest(folder)
    for key, value in expect.items():
        if info.get(key) != value:
            raise MebenchError(
                f"checkpoint was written with {key} = {info.get(key)!r}, this run has {value!r}",
                where=str(folder / MANIFEST),
                hint="resume with the same recipe and --set values, or use a new --output")
    load_adapter(module, DEFAULT, folder)
    load_adapter(module, OLD, folder / "old")
    ema = None
    if info.get("adapters", {}).get("ema"):
        from safetensors.torch import load_file

        ema = {k.removeprefix("base_model.model."): v
               for k, v in load_file(str(folder / "ema" / "adapter_model.safetensors")).items()}
    optimizer = torch.load(folder / "optimizer.pt", weights_only=True)
    rng = torch.load(folder / "rng.pt", weights_only=True)
    return TrainState(step=int(info["step"]), optimizer=optimizer, rng=rng, ema=ema)
