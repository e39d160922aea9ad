"""`mebench train --recipe motionnft` (Qwen-Image-Edit-2509) on a tiny seeded pipeline.

The paper's recipe end to end: the motion reward through a flow plugin and the MLLM reward from
the ``openai-compatible`` judge in expected-score mode over HTTP (the local fake judge API);
held-out evaluation (MAS and the judge); a checkpoint, ``--resume`` continuing it to the same adapters and optimiser state, and the LoRA in
``mebench run --model qwen-image-edit-2509``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "editors"))
from test_diffusers_backbone import (  # noqa: E402,F401  (the tiny dataset, checkpoint checks)
    RES, assert_same_training_state, lora_state, train_parquet)
from tiny_pipelines import qwen_edit_pipeline, save  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CONDITION_AREA = 56 * 56  # the vision encoder sees a 64x64 condition image (4 merged tokens)


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save(qwen_edit_pipeline(plus=True), tmp_path_factory.mktemp("tiny") / "qwen-edit-plus")


@pytest.fixture(scope="module")
def judge_url() -> Iterator[str]:
    from servers.judge_api import FakeJudgeAPI

    with FakeJudgeAPI() as api:
        yield api.openai_base_url


def _settings(model: Path, data: Path, url: str, steps: int) -> list[str]:
    rewards = ("[{name: motion, weight: 0.5, args: {flow: opencv-dis}}, "
               "{name: mllm, weight: 0.5, args: {judge: openai-compatible, model: tiny-vl, "
               f"judge_args: {{base_url: '{url}', max_retries: 0}}}}}}]")
    sets = [f"backbone.model={model}", f"backbone.args.condition_area={CONDITION_AREA}",
            "dataset.source=parquet", f"dataset.path={data}", f"dataset.resolution={RES}",
            f"rewards={rewards}", "lora.rank=4", "lora.alpha=8", "sampling.num_steps=2",
            "sampling.group_size=4", "sampling.groups_per_step=2", "group_filter.enabled=false",
            "dataset.limit=1", "eval.every=2", "eval.samples=1",  # row 2 is held out
            "optimizer.lr=0.01", f"training.max_steps={steps}", "training.checkpoint_every=1",
            "training.cpu_threads=1", "training.gradient_checkpointing=false"]
    return [arg for s in sets for arg in ("--set", s)]


def _train(invoke, model: Path, data: Path, url: str, out: Path,  # type: ignore[no-untyped-def]
           steps: int, *extra: str) -> None:
    result = invoke("train", "--recipe", "motionnft", *_settings(model, data, url, steps),
                    "--output", str(out), "--no-progress", *extra)
    assert result.exit_code == 0, result.output


def test_motionnft_trains_resumes_and_loads_in_the_editor(  # type: ignore[no-untyped-def]
        invoke, tiny_qwen: Path, train_parquet: Path, judge_url: str, tmp_path: Path) -> None:
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    _train(invoke, tiny_qwen, train_parquet, judge_url, straight, 2)
    ckpt = straight / "checkpoints" / "step-000002"
    manifest = json.loads((ckpt / "mebench_checkpoint.json").read_text())
    assert (manifest["pipeline"], manifest["base_editor"], manifest["backbone"]) == (
        "QwenImageEditPlusPipeline", "qwen-image-edit-2509", "qwen-image-edit")
    assert manifest["step"] == 2 and manifest["base_model"] == str(tiny_qwen)
    state = lora_state(ckpt)
    assert any("transformer_blocks.1.attn.add_k_proj.lora_A" in k for k in state)
    assert any(float(v.abs().max()) > 0 for k, v in state.items() if "lora_B" in k)  # trained
    log = [json.loads(x) for x in (straight / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [0, 1]
    assert all(r["loss"] is not None and r["grad_norm"] is not None for r in log)
    for r in log:  # both rewards measured, the MLLM one from the judge's digit expectation
        assert 0.0 <= r["rewards"]["motion"] <= 1.0 and 0.0 < r["rewards"]["mllm"] < 1.0
    # held-out evaluation after step 2: MAS by the flow plugin and the judge's expected score
    assert "eval_mas" not in log[0] and log[1]["eval_updates"] == 2
    assert 0.0 <= log[1]["eval_mas"] <= 100.0 and 0.0 < log[1]["eval_mllm"] < 1.0
    assert log[1]["eval_mllm_failed"] == 0 and (straight / "eval_mas.png").is_file()

    _train(invoke, tiny_qwen, train_parquet, judge_url, resumed, 1)
    _train(invoke, tiny_qwen, train_parquet, judge_url, resumed, 2, "--resume")
    assert_same_training_state(ckpt, resumed / "checkpoints" / "step-000002", step=2)

    args = f"model_path={tiny_qwen},lora={ckpt},steps=2,resolution=64"
    result = invoke("run", "--task", "motionedit-synthetic", "--limit", "2", "--model",
                    "qwen-image-edit-2509", "--model-args", args, "--dataset-args", "size=64",
                    "--output", str(tmp_path / "runs"), "--no-progress")
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "results.json").read_text())["n_failed"] == 0
    loaded = json.loads((run_dir / "run.json").read_text())["model_settings"]["lora_loaded"]
    assert (loaded["r"], loaded["lora_alpha"], loaded["checkpoint"]["step"]) == (4, 8.0, 2)
    assert loaded["layers"] == sum(1 for k in state if ".lora_A." in k)


def test_velocity_is_the_pipelines_transformer_call(tiny_qwen: Path) -> None:
    """Prompts of different lengths share a batch: the shorter one is padded and masked, and its
    velocity equals the one computed alone; decode gives RGB 0-255 at the input's size."""
    from mebench.trainers.backbone import TrainPrompt, select
    from mebench.trainers.lora import attach_adapters
    from mebench.trainers.qwen_backbone import QwenImageEditBackbone

    bb = QwenImageEditBackbone(model=str(tiny_qwen), condition_area=CONDITION_AREA,
                               local_files_only=True)
    attach_adapters(bb.transformer, rank=4, alpha=8, dropout=0.0,
                    target_modules=["to_q", "to_k", "to_v"], base_model=str(tiny_qwen))
    gen = torch.Generator().manual_seed(0)
    src = torch.rand((3, RES, RES), generator=gen) * 255
    prompts = [TrainPrompt("a", "raise the arm", src, None),
               TrainPrompt("b", "turn the head all the way to the left side", src, None)]
    cond = bb.encode(prompts)
    mask = cond["prompt_mask"]
    assert mask[0].sum() < mask[1].sum() == mask.shape[1]  # padded to the longest, masked
    x = bb.noise(cond, torch.Generator().manual_seed(1))
    assert x.shape == (2, (RES // 8) ** 2, 16)
    t = torch.full((2,), 0.5)
    both = bb.velocity(x, t, cond, adapter=None)
    alone = bb.velocity(x[:1], t[:1], select(cond, torch.tensor([0])), adapter=None)
    assert torch.allclose(both[:1], alone, atol=1e-5)
    assert not torch.allclose(both[0], both[1])
    images = bb.decode(cond["image_latents"], cond)
    assert images.shape == (2, 3, RES, RES) and 0 <= float(images.min()) <= float(images.max()) <= 255


def test_bad_backbone_settings_are_clear_errors(invoke, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                tiny_qwen: Path) -> None:
    cfg = invoke("train", "--recipe", "motionnft", "--set", f"backbone.model={tiny_qwen}",
                 "--set", "backbone.args.true_cfg_scale=4.0", "--output", str(tmp_path / "c"))
    assert cfg.exit_code == 2 and "true_cfg_scale must be 1.0" in cfg.output
    assert "backbone.args" in cfg.output
    missing = invoke("train", "--recipe", "motionnft", "--set",
                     f"backbone.model={tmp_path / 'nowhere'}", "--output", str(tmp_path / "m"))
    assert missing.exit_code == 2 and "no Qwen-Image-Edit pipeline folder" in missing.output
