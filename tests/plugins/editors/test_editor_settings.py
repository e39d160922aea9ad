"""--model-args of the diffusers editors: unknown names and bad values fail before any loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from mebench.errors import MebenchError
from mebench.plugin_manager import MebenchPluginManager
from mebench.plugins.editors.catalog import EDITORS
from mebench.plugins.editors.settings import merge_settings
from tiny_pipelines import TinyModels  # beside conftest.py


def test_every_catalog_editor_is_registered(pm: MebenchPluginManager) -> None:
    names = set(pm.specs("model"))
    assert set(EDITORS) <= names
    assert pm.get("model", "magicbrush").description.startswith("MagicBrush")


def test_unknown_argument_lists_the_accepted_ones(pm: MebenchPluginManager) -> None:
    with pytest.raises(MebenchError) as exc:
        pm.get("model", "qwen-image-edit").build({"stepz": 2}, device="cpu", batch_size=1)
    text = str(exc.value)
    assert "stepz" in text and "accepted: model_path, steps, guidance_scale" in text
    assert "device" not in text.split("accepted:")[1]  # runner settings are not the user's


def test_true_cfg_is_not_an_argument_of_pix2pix(pm: MebenchPluginManager) -> None:
    with pytest.raises(MebenchError, match="true_cfg_scale"):
        pm.get("model", "instruct-pix2pix").build({"true_cfg_scale": 4.0})


@pytest.mark.parametrize(("args", "message"), [
    ({"steps": 0}, "steps must be an integer >= 1, got 0"),
    ({"steps": 2.5}, "steps must be an integer >= 1, got 2.5"),
    ({"true_cfg_scale": -1}, "true_cfg_scale must be a number >= 0, got -1"),
    ({"guidance_scale": "high"}, "guidance_scale must be a number >= 0, got 'high'"),
    ({"dtype": "fp8"}, "dtype must be one of auto, float32"),
    ({"cpu_offload": "sometimes"}, "cpu_offload must be one of none, model, sequential"),
    ({"resolution": 8}, "resolution must be an integer >= 16, got 8"),
    ({"resolution": 8192}, "resolution must be at most 4096"),
    ({"lora_scale": -0.5}, "lora_scale must be a number >= 0"),
])
def test_bad_values_are_refused_by_name(pm: MebenchPluginManager, args: dict[str, object],
                                        message: str) -> None:
    with pytest.raises(MebenchError) as exc:
        pm.get("model", "qwen-image-edit").build(args, device="cpu", batch_size=1)
    assert "could not build model 'qwen-image-edit'" in str(exc.value)
    assert message in str(exc.value)


def test_good_values_merge_over_the_defaults() -> None:
    spec = EDITORS["qwen-image-edit-2509"]
    given = {"steps": 4, "dtype": "bf16", "cpu_offload": True, "resolution": 512,
             "true_cfg_scale": 2, "model_path": None}
    s = merge_settings(spec.defaults, given, model_id=spec.model_id, lora=None,
                       lora_weight_name=None)
    assert (s.steps, s.dtype, s.cpu_offload, s.resolution) == (4, "bfloat16", "model", 512)
    assert s.true_cfg_scale == 2.0 and s.negative_prompt == " "  # the default stays
    assert s.model_path == "Qwen/Qwen-Image-Edit-2509"


def test_the_paper_defaults() -> None:
    assert EDITORS["qwen-image-edit"].defaults["steps"] == 28
    assert EDITORS["qwen-image-edit"].defaults["true_cfg_scale"] == 4.0
    assert EDITORS["flux-kontext"].model_id == "black-forest-labs/FLUX.1-Kontext-dev"
    assert EDITORS["instruct-pix2pix"].defaults["image_guidance_scale"] == 1.5
    assert EDITORS["qwen-image-edit-2511"].defaults["steps"] == 40
    alias = EDITORS["motionnft-qwen-image-edit"]
    s = merge_settings(alias.defaults, {}, model_id=alias.model_id, lora=alias.lora,
                       lora_weight_name=alias.lora_weight_name)
    assert (s.lora, s.lora_weight_name) == ("elaine1wan/motionedit",
                                            "adapter_model_converted.safetensors")
    assert s.model_path == "Qwen/Qwen-Image-Edit-2509"


def test_bad_attention_backend_is_refused(pm: MebenchPluginManager,
                                          tiny_models: TinyModels) -> None:
    with pytest.raises(MebenchError, match="attention_backend must be one of .*native"):
        pm.get("model", "instruct-pix2pix").build(
            {"model_path": str(tiny_models("pix2pix")), "attention_backend": "warp-drive"},
            device="cpu")


def test_missing_weights_name_the_model_path(pm: MebenchPluginManager, tmp_path: Path) -> None:
    with pytest.raises(MebenchError) as exc:
        pm.get("model", "instruct-pix2pix").build({"model_path": str(tmp_path / "nope")},
                                                  device="cpu")
    assert "could not load StableDiffusionInstructPix2PixPipeline" in str(exc.value)
    assert "model_path=" in str(exc.value)


def test_attention_backend_and_offload_are_applied(pm: MebenchPluginManager,
                                                   tiny_models: TinyModels) -> None:
    import numpy as np
    from PIL import Image

    from mebench.types import EditRequest

    request = EditRequest(sample_id="s", source=Image.new("RGB", (32, 32), (90, 40, 10)),
                          instruction="wave", seed=3)
    outputs = []
    for extra in ({}, {"attention_backend": "native", "cpu_offload": "model"}):
        model = pm.get("model", "instruct-pix2pix").build(
            {"model_path": str(tiny_models("pix2pix")), "steps": 1, "resolution": 32, **extra},
            device="cpu")
        outputs.append(np.asarray(model.edit([request])[0], dtype=np.float32))
        assert {k: model.settings()[k] for k in extra} == extra
    assert np.abs(outputs[0] - outputs[1]).max() <= 1  # the same maths, another code path
