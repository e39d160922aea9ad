"""Every registered diffusers editor, end to end on its tiny pipeline, and its seeding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from mebench.plugin_manager import MebenchPluginManager
from mebench.types import EditRequest
from tiny_pipelines import Invoke, TinyModels  # beside conftest.py

if TYPE_CHECKING:
    from PIL import Image

E2E = [("qwen-image-edit", "qwen-edit"), ("qwen-image-edit-2509", "qwen-edit-plus"),
       ("flux-kontext", "flux-kontext"), ("instruct-pix2pix", "pix2pix"),
       ("magicbrush", "pix2pix"), ("qwen-image-edit-2511", "qwen-edit-plus"),
       ("flux2-klein", "flux2-klein"), ("longcat-image-edit", "longcat-edit")]


@pytest.mark.parametrize(("name", "family"), E2E)
def test_editor_runs_end_to_end(invoke: Invoke, tiny_models: TinyModels, tmp_path: Path, name: str,
                                family: str) -> None:
    model_args = f"model_path={tiny_models(family)},steps=2,resolution=64"
    result = invoke("run", "--task", "motionedit-synthetic", "--limit", "2", "--model", name,
                    "--model-args", model_args, "--dataset-args", "size=64",
                    "--output", str(tmp_path), "--no-progress", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert (results["n"], results["n_failed"], results["n_scored"]) == (2, 0, 2)
    assert 0.0 <= results["metrics"]["mas"]["mean"] <= 100.0
    from PIL import Image

    outputs = sorted((run_dir / "outputs").glob("*.png"))
    assert [p.stem for p in outputs] == ["syn-0000", "syn-0001"]
    for p in outputs:
        with Image.open(p) as im:
            assert im.size == (64, 64)  # an area of resolution^2 for a square source
            assert np.asarray(im).std() > 0  # not a blank (NaN-decoded) image
    run = json.loads((run_dir / "run.json").read_text())
    assert run["model"] == name and run["model_args"]["steps"] == 2
    assert run["model_settings"]["steps"] == 2  # the adapter's effective settings


def _image(seed: int, size: tuple[int, int] = (48, 32)) -> Image.Image:
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def _requests() -> list[EditRequest]:
    return [EditRequest(sample_id="a", source=_image(1), instruction="raise the left arm",
                        seed=11),
            EditRequest(sample_id="b", source=_image(2), instruction="turn the head", seed=22)]


def _arr(im: Image.Image) -> np.ndarray:
    return np.asarray(im, dtype=np.float32)


@pytest.mark.parametrize(("name", "family"), [("qwen-image-edit", "qwen-edit"),
                                              ("instruct-pix2pix", "pix2pix"),
                                              ("flux-kontext", "flux-kontext")])
def test_batch_of_two_equals_two_singles(pm: MebenchPluginManager, tiny_models: TinyModels,
                                         name: str, family: str) -> None:
    model = pm.get("model", name).build(
        {"model_path": str(tiny_models(family)), "steps": 2, "resolution": 32},
        device="cpu", batch_size=2)
    a, b = _requests()
    batched = model.edit([a, b])
    singles = model.edit([a]) + model.edit([b])
    swapped = model.edit([b, a])
    for x, y in zip(batched, singles):
        assert x.size == y.size
        assert np.abs(_arr(x) - _arr(y)).max() <= 2  # batched matmuls may round differently
    assert np.abs(_arr(batched[0]) - _arr(swapped[1])).max() <= 2
    assert np.array_equal(_arr(model.edit([a])[0]), _arr(singles[0]))  # deterministic
    other_seed = EditRequest(sample_id="a", source=a.source, instruction=a.instruction, seed=12)
    assert np.abs(_arr(model.edit([other_seed])[0]) - _arr(singles[0])).max() > 2


@pytest.mark.parametrize(("name", "family"), [("flux2-klein", "flux2-klein"),
                                              ("longcat-image-edit", "longcat-edit")])
def test_one_call_per_sample_editors_match_across_batches(pm: MebenchPluginManager,
                                                          tiny_models: TinyModels, name: str,
                                                          family: str) -> None:
    """FLUX.2 [klein] and LongCat take one prompt per call (klein's minimum side is 64 px)."""
    model = pm.get("model", name).build(
        {"model_path": str(tiny_models(family)), "steps": 2, "resolution": 64},
        device="cpu", batch_size=2)
    a, b = (EditRequest(sample_id=r.sample_id, source=_image(r.seed, (64, 64)),
                        instruction=r.instruction, seed=r.seed) for r in _requests())
    batched = model.edit([a, b])
    assert [im.size for im in batched] == [(64, 64), (64, 64)]
    assert np.array_equal(_arr(batched[0]), _arr(model.edit([a])[0]))
    assert np.array_equal(_arr(batched[1]), _arr(model.edit([b])[0]))
    assert np.abs(_arr(batched[0]) - _arr(batched[1])).max() > 2


def test_settings_report_the_effective_values(pm: MebenchPluginManager,
                                              tiny_models: TinyModels) -> None:
    model = pm.get("model", "qwen-image-edit-2509").build(
        {"model_path": str(tiny_models("qwen-edit-plus")), "steps": 3, "resolution": 32},
        device="cpu", batch_size=4)
    s = model.settings()
    assert s["pipeline"] == "QwenImageEditPlusPipeline" and s["editor"] == "qwen-image-edit-2509"
    assert (s["steps"], s["resolution"], s["true_cfg_scale"]) == (3, 32, 4.0)
    assert (s["device"], s["torch_dtype"], s["batch_size"]) == ("cpu", "float32", 4)
    assert s["negative_prompt"] == " " and s["lora_loaded"] is None
    json.dumps(s)  # run.json can hold it
    # the 2509 pipeline refuses batches: the adapter edits one request per call, any batch size
    out = model.edit(_requests())
    assert [im.size for im in out] == [(32, 32), (32, 32)]


def test_qwen_resolution_scales_the_native_area(pm: MebenchPluginManager,
                                                tiny_models: TinyModels) -> None:
    model = pm.get("model", "qwen-image-edit").build(
        {"model_path": str(tiny_models("qwen-edit")), "steps": 1, "resolution": 64},
        device="cpu")
    (out,) = model.edit([EditRequest(sample_id="w", source=_image(3, (96, 48)),
                                     instruction="jump", seed=1)])
    # calculate_dimensions(64 * 64, 2.0): 96 x 48 rounded to multiples of 32 -> 96 x 32
    assert out.size == (96, 32)
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit as m

    assert m.calculate_dimensions(1024 * 1024, 1.0)[:2] == (1024, 1024)  # restored afterwards


def test_klein_refuses_images_under_its_minimum_side(pm: MebenchPluginManager,
                                                     tiny_models: TinyModels) -> None:
    from mebench.errors import MebenchError

    model = pm.get("model", "flux2-klein").build(
        {"model_path": str(tiny_models("flux2-klein")), "steps": 1, "resolution": 48},
        device="cpu")
    with pytest.raises(MebenchError, match="at least 64 px a side, got 48x48.*raise resolution="):
        model.edit([EditRequest(sample_id="s", source=_image(1, (64, 64)), instruction="x",
                                seed=1)])
