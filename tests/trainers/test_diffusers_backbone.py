"""MotionNFT on a tiny seeded FLUX.1 Kontext pipeline: train, resume, load the LoRA in an editor.

Groups hold 4 images: the motion reward takes 6 levels, so 2-image groups of the untrained tiny
model often tie (zero advantage, zero gradient).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "editors"))
from tiny_pipelines import (  # noqa: E402  (the editors' builders)
    flux_kontext_pipeline, save, write_square_pairs)

RES = 32
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_flux(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save(flux_kontext_pipeline(), tmp_path_factory.mktemp("tiny") / "flux-kontext")


@pytest.fixture(scope="module")
def train_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two pairs in the MotionEdit-Train schema (id, prompt, input_image, target_image)."""
    return write_square_pairs(tmp_path_factory.mktemp("data") / "train.parquet", size=RES)


def _settings(model: Path, data: Path, steps: int) -> list[str]:
    sets = [f"backbone.model={model}", "dataset.source=parquet", f"dataset.path={data}",
            f"dataset.resolution={RES}",
            "rewards=[{name: motion, weight: 1.0, args: {flow: opencv-dis}}]",
            "lora.rank=4", "lora.alpha=8", "sampling.num_steps=2", "sampling.group_size=4",
            "sampling.groups_per_step=2", "group_filter.enabled=false", "optimizer.lr=0.01",
            f"training.max_steps={steps}", "training.checkpoint_every=1",
            "training.cpu_threads=1", "training.gradient_checkpointing=false"]
    return [arg for s in sets for arg in ("--set", s)]


def _train(invoke, model: Path, data: Path, out: Path, steps: int,  # type: ignore[no-untyped-def]
           *extra: str) -> None:
    result = invoke("train", "--recipe", "motionnft-flux-kontext", *_settings(model, data, steps),
                    "--output", str(out), "--no-progress", *extra)
    assert result.exit_code == 0, result.output


def lora_state(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def assert_same_training_state(ckpt: Path, again: Path, *, step: int) -> None:
    """Two checkpoints at ``step`` hold the same adapters (trained and old) and AdamW state."""
    assert json.loads((again / "mebench_checkpoint.json").read_text())["step"] == step
    for name in ("", "old"):
        a, b = lora_state(ckpt / name), lora_state(again / name)
        assert a.keys() == b.keys()
        assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a), name
    opt_a = torch.load(ckpt / "optimizer.pt", weights_only=True)
    opt_b = torch.load(again / "optimizer.pt", weights_only=True)
    assert opt_a["state"].keys() == opt_b["state"].keys()
    for key, value in opt_a["state"].items():
        other = opt_b["state"][key]
        assert float(value["step"]) == float(other["step"]) == float(step)
        assert torch.allclose(value["exp_avg"], other["exp_avg"], atol=1e-6)
        assert torch.allclose(value["exp_avg_sq"], other["exp_avg_sq"], atol=1e-9)


def test_train_resume_and_load_in_the_editor(  # type: ignore[no-untyped-def]
        invoke, tiny_flux: Path, train_parquet: Path, tmp_path: Path) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _train(invoke, tiny_flux, train_parquet, straight, 2)
    ckpt = straight / "checkpoints" / "step-000002"
    manifest = json.loads((ckpt / "mebench_checkpoint.json").read_text())
    assert manifest["format"] == "mebench-lora" and manifest["pipeline"] == "FluxKontextPipeline"
    assert (manifest["base_editor"], manifest["step"], manifest["backbone"]) == (
        "flux-kontext", 2, "flux-kontext")
    assert manifest["base_model"] == str(tiny_flux)
    config = json.loads((ckpt / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (4, 8)
    assert {"to_q", "add_q_proj", "to_add_out"} <= set(config["target_modules"])
    state = lora_state(ckpt)
    assert any("single_transformer_blocks.0.attn.to_q.lora_A" in k for k in state)
    assert any(float(v.abs().max()) > 0 for k, v in state.items() if "lora_B" in k)  # trained
    log = [json.loads(x) for x in (straight / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 1]
    assert all(r["loss"] is not None and r["grad_norm"] is not None for r in log)
    assert all(0.0 <= r["rewards"]["motion"] <= 1.0 for r in log)

    # one step, then --resume to two: the same adapters, optimiser state and step
    _train(invoke, tiny_flux, train_parquet, resumed, 1)
    _train(invoke, tiny_flux, train_parquet, resumed, 2, "--resume")
    assert_same_training_state(ckpt, resumed / "checkpoints" / "step-000002", step=2)
    assert len((resumed / "train_log.jsonl").read_text().splitlines()) == 2

    # the checkpoint's LoRA in `mebench run` through the flux-kontext editor
    args = f"model_path={tiny_flux},lora={ckpt},steps=2,resolution=64"
    result = invoke("run", "--task", "motionedit-synthetic", "--limit", "2", "--model",
                    "flux-kontext", "--model-args", args, "--dataset-args", "size=64",
                    "--output", str(tmp_path / "runs"), "--no-progress")
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    assert (results["n"], results["n_failed"]) == (2, 0)
    loaded = json.loads((run_dir / "run.json").read_text())["model_settings"]["lora_loaded"]
    assert (loaded["format"], loaded["r"], loaded["lora_alpha"]) == ("peft", 4, 8.0)
    assert loaded["layers"] == sum(1 for k in state if ".lora_A." in k)  # every trained layer
    assert loaded["checkpoint"]["step"] == 2 and loaded["ref"] == str(ckpt)


def test_missing_pipeline_folder_is_a_clear_error(invoke,  # type: ignore[no-untyped-def]
                                                  tmp_path: Path) -> None:
    result = invoke("train", "--recipe", "motionnft-flux-kontext", "--set",
                    f"backbone.model={tmp_path / 'nowhere'}", "--output", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert "no FLUX.1 Kontext pipeline folder" in result.output
    assert "backbone.model" in result.output
