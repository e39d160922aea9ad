"""LoRA adapters on the tiny transformers: PEFT folders, the converted MotionNFT layout and
mebench checkpoints, made here with peft."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mebench.errors import MebenchError
from mebench.plugin_manager import MebenchPluginManager
from mebench.plugins.editors.lora import write_manifest
from mebench.types import EditRequest
from tiny_pipelines import Invoke, TinyModels  # beside conftest.py


def _make_peft_lora(transformer_dir: Path, cls_name: str, out: Path, *, r: int = 4,
                    alpha: int = 4) -> Path:
    """A random (non-zero) LoRA on the attention projections, saved by peft."""
    import diffusers
    import torch
    from peft import LoraConfig, get_peft_model

    model = getattr(diffusers, cls_name).from_pretrained(transformer_dir)
    torch.manual_seed(0)
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=["to_q", "to_k", "to_v"],
                        init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    with torch.no_grad():  # large enough to show through two steps of a tiny model
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.mul_(30.0)
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def loras(tiny_models: TinyModels, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from safetensors.torch import load_file, save_file

    root = tmp_path_factory.mktemp("loras")
    qwen = tiny_models("qwen-edit-plus") / "transformer"
    ckpt = _make_peft_lora(qwen, "QwenImageTransformer2DModel", root / "checkpoint")
    assert (ckpt / "adapter_config.json").is_file()
    assert (ckpt / "adapter_model.safetensors").is_file()
    write_manifest(ckpt, base_editor="qwen-image-edit-2509", base_model="Qwen/Qwen-Image-Edit-2509",
                   pipeline="QwenImageEditPlusPipeline", recipe="motionnft", step=1)
    # the official release's layout: PEFT keys renamed base_model.model -> transformer, no config
    state = load_file(str(ckpt / "adapter_model.safetensors"))
    assert all(k.startswith("base_model.model.") for k in state)
    converted = root / "converted"
    converted.mkdir()
    save_file({k.replace("base_model.model.", "transformer.", 1): v for k, v in state.items()},
              str(converted / "adapter_model_converted.safetensors"))
    # the same weights, with lora_alpha 8 instead of 4 (scale 2)
    alpha8 = root / "alpha8"
    shutil.copytree(ckpt, alpha8)
    config = json.loads((alpha8 / "adapter_config.json").read_text())
    config["lora_alpha"] = 8
    (alpha8 / "adapter_config.json").write_text(json.dumps(config))
    flux = _make_peft_lora(tiny_models("flux-kontext") / "transformer", "FluxTransformer2DModel",
                           root / "flux")
    return {"checkpoint": ckpt, "converted": converted, "alpha8": alpha8, "flux": flux}


def _edit(pm: MebenchPluginManager, name: str, path: Path, **args: Any) -> np.ndarray:
    from PIL import Image

    model = pm.get("model", name).build({"model_path": str(path), "steps": 2, "resolution": 32,
                                         **args}, device="cpu")
    src = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8))
    (out,) = model.edit([EditRequest(sample_id="s", source=src, instruction="wave", seed=5)])
    return np.asarray(out, dtype=np.float32)


def test_peft_checkpoint_changes_the_output_and_scales(pm: MebenchPluginManager,
                                                       tiny_models: TinyModels,
                                                       loras: dict[str, Path]) -> None:
    base_dir = tiny_models("qwen-edit-plus")
    base = _edit(pm, "qwen-image-edit-2509", base_dir)
    with_lora = _edit(pm, "qwen-image-edit-2509", base_dir, lora=str(loras["checkpoint"]))
    off = _edit(pm, "qwen-image-edit-2509", base_dir, lora=str(loras["checkpoint"]),
                lora_scale=0)
    assert np.abs(with_lora - base).max() > 2
    assert np.abs(off - base).max() <= 1


def test_converted_motionnft_layout_loads_like_peft(pm: MebenchPluginManager,
                                                    tiny_models: TinyModels,
                                                    loras: dict[str, Path]) -> None:
    base_dir = tiny_models("qwen-edit-plus")
    peft_out = _edit(pm, "qwen-image-edit-2509", base_dir, lora=str(loras["checkpoint"]))
    conv = _edit(pm, "qwen-image-edit-2509", base_dir, lora=str(loras["converted"]),
                 lora_weight_name="adapter_model_converted.safetensors")
    assert np.abs(conv - peft_out).max() <= 1


def test_lora_alpha_of_the_config_is_honoured(pm: MebenchPluginManager, tiny_models: TinyModels,
                                              loras: dict[str, Path]) -> None:
    base_dir = tiny_models("qwen-edit-plus")
    alpha8 = _edit(pm, "qwen-image-edit-2509", base_dir, lora=str(loras["alpha8"]))
    scaled = _edit(pm, "qwen-image-edit-2509", base_dir, lora=str(loras["checkpoint"]),
                   lora_scale=2)
    plain = _edit(pm, "qwen-image-edit-2509", base_dir, lora=str(loras["checkpoint"]))
    assert np.abs(alpha8 - scaled).max() <= 1
    assert np.abs(alpha8 - plain).max() > 2


def test_settings_record_the_lora(pm: MebenchPluginManager, tiny_models: TinyModels,
                                  loras: dict[str, Path]) -> None:
    model = pm.get("model", "qwen-image-edit-2509").build(
        {"model_path": str(tiny_models("qwen-edit-plus")), "lora": str(loras["checkpoint"])},
        device="cpu")
    info = model.settings()["lora_loaded"]
    assert (info["format"], info["r"], info["lora_alpha"], info["scale"]) == ("peft", 4, 4, 1.0)
    assert info["layers"] == 2 * 3  # 2 blocks x (to_q, to_k, to_v); the text stream is add_*
    assert info["checkpoint"]["base_editor"] == "qwen-image-edit-2509"


def test_flux_kontext_takes_a_lora(pm: MebenchPluginManager, tiny_models: TinyModels,
                                   loras: dict[str, Path]) -> None:
    base_dir = tiny_models("flux-kontext")
    base = _edit(pm, "flux-kontext", base_dir)
    with_lora = _edit(pm, "flux-kontext", base_dir, lora=str(loras["flux"]))
    assert np.abs(with_lora - base).max() > 2


def test_motionnft_alias_end_to_end_with_a_checkpoint(invoke: Invoke, tiny_models: TinyModels,
                                                      loras: dict[str, Path],
                                                      tmp_path: Path) -> None:
    args = (f"model_path={tiny_models('qwen-edit-plus')},lora={loras['checkpoint']},"
            "steps=2,resolution=64")
    result = invoke("run", "--task", "motionedit-synthetic", "--limit", "2", "--model",
                    "motionnft-qwen-image-edit", "--model-args", args, "--dataset-args",
                    "size=64", "--output", str(tmp_path), "--no-progress")
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert (results["n"], results["n_failed"]) == (2, 0)
    assert len(list((run_dir / "outputs").glob("*.png"))) == 2


def test_checkpoint_of_another_pipeline_is_refused(pm: MebenchPluginManager,
                                                   tiny_models: TinyModels,
                                                   loras: dict[str, Path]) -> None:
    with pytest.raises(MebenchError) as exc:
        pm.get("model", "flux-kontext").build(
            {"model_path": str(tiny_models("flux-kontext")), "lora": str(loras["checkpoint"])},
            device="cpu")
    assert "trained on 'qwen-image-edit-2509' (QwenImageEditPlusPipeline)" in str(exc.value)
    assert "use --model qwen-image-edit-2509" in str(exc.value)


def test_lora_of_another_model_is_refused(pm: MebenchPluginManager, tiny_models: TinyModels,
                                          loras: dict[str, Path]) -> None:
    with pytest.raises(MebenchError, match="could not load LoRA|matched no module"):
        pm.get("model", "qwen-image-edit").build(
            {"model_path": str(tiny_models("qwen-edit")), "lora": str(loras["flux"])},
            device="cpu")


def test_missing_lora_is_refused(pm: MebenchPluginManager, tmp_path: Path) -> None:
    with pytest.raises(MebenchError, match="neither a local file or folder nor a hub id"):
        pm.get("model", "qwen-image-edit").build({"lora": str(tmp_path / "none")})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MebenchError, match="cannot tell which LoRA file"):
        pm.get("model", "qwen-image-edit").build({"lora": str(empty)})


def test_hub_lora_offline_is_one_clear_error(pm: MebenchPluginManager,
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))  # not cached
    with pytest.raises(MebenchError) as exc:
        pm.get("model", "motionnft-qwen-image-edit").build({})
    assert "could not get LoRA 'elaine1wan/motionedit' (adapter_model_converted.safetensors)" \
        in str(exc.value)
