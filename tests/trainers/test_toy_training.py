"""The algorithm works: NFT on the toy raises the reward (and lowers it with the reward
inverted); checkpoints are PEFT adapters and --resume continues bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mebench.errors import MebenchError
from mebench.plugin_manager import MebenchPluginManager
from mebench.trainers.build import run_recipe
from mebench.trainers.recipe import builtin_recipe_dir, load_recipe_file


def _train(pm: MebenchPluginManager, out: Path, *overrides: str, resume: bool = False) -> Path:
    config = load_recipe_file(builtin_recipe_dir() / "toy-blob.yaml", overrides=overrides)
    return run_recipe(config, output=out, pm=pm, resume=resume, progress=False)


def _log(out: Path) -> list[dict]:
    lines = (out / "train_log.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _curve(out: Path) -> list[float]:
    return [r["rewards"]["blob-target"] for r in _log(out)]


def test_reward_rises_and_inverted_reward_falls(pm: MebenchPluginManager, tmp_path: Path) -> None:
    _train(pm, tmp_path / "up")
    _train(pm, tmp_path / "down", "rewards.0.weight=-1", "training.max_steps=40")
    up, down = _curve(tmp_path / "up"), _curve(tmp_path / "down")
    assert (len(up), len(down)) == (80, 40)
    assert up[0] == down[0]  # the same base model and samples at step 0
    first, last = sum(up[:10]) / 10, sum(up[-10:]) / 10
    assert first < 0.35 and last > 0.85, (first, last)
    first, last = sum(down[:10]) / 10, sum(down[-10:]) / 10
    assert last < 0.05 < first, (first, last)
    record = _log(tmp_path / "up")[0]
    assert set(record) >= {"step", "reward_mean", "rewards", "groups_kept", "loss", "kl",
                           "positive", "negative", "grad_norm", "old_decay"}
    assert record["old_decay"] == 0.0 and _log(tmp_path / "up")[-1]["old_decay"] == 0.079


def _checkpoint_tensors(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    tensors = {}
    for sub in (".", "old", "ema"):
        for key, value in load_file(str(folder / sub / "adapter_model.safetensors")).items():
            tensors[f"{sub}/{key}"] = value
    opt = torch.load(folder / "optimizer.pt", weights_only=True)
    for index, state in opt["state"].items():
        for key, value in state.items():
            tensors[f"opt/{index}/{key}"] = torch.as_tensor(value)
    return tensors


def test_resume_is_bit_for_bit(pm: MebenchPluginManager, tmp_path: Path) -> None:
    # LoRA dropout draws from torch's global RNG: resuming must restore it too
    common = ("lora.dropout=0.1", "ema.enabled=true", "training.checkpoint_every=3")
    straight = _train(pm, tmp_path / "a", "training.max_steps=6", *common)
    _train(pm, tmp_path / "b", "training.max_steps=4", *common)
    # as if killed after step 4 was logged but before its checkpoint was written
    import shutil
    shutil.rmtree(tmp_path / "b" / "checkpoints" / "step-000004")
    with (tmp_path / "b" / "train_log.jsonl").open("a") as fh:
        fh.write('{"step": 4, "rewa')  # a line cut short by the kill
    resumed = _train(pm, tmp_path / "b", "training.max_steps=6", *common, resume=True)
    assert straight.name == resumed.name == "step-000006"
    a, b = _checkpoint_tensors(straight), _checkpoint_tensors(resumed)
    assert a.keys() == b.keys() and len(a) > 12
    for key in a:
        assert torch.equal(a[key], b[key]), key
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in _log(tmp_path / "a")]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"}
                     for r in _log(tmp_path / "b")]
    # a resume with another recipe is refused; a fresh run into a used folder too
    with pytest.raises(MebenchError, match="resume_hash"):
        _train(pm, tmp_path / "b", "training.max_steps=7", "optimizer.lr=0.5", *common,
               resume=True)
    with pytest.raises(MebenchError, match="already holds a training run"):
        _train(pm, tmp_path / "b", "training.max_steps=7", *common)


def test_checkpoint_is_a_peft_adapter_with_a_manifest(pm: MebenchPluginManager,
                                                      tmp_path: Path) -> None:
    from peft import PeftModel

    from mebench.trainers.toy import ToyVelocityNet

    final = _train(pm, tmp_path, "training.max_steps=2")
    info = json.loads((final / "mebench_checkpoint.json").read_text())
    assert info["base_model"] == "mebench-toy-blob" and info["step"] == 2
    assert info["backbone"] == "toy-blob" and info["recipe"] == "toy-blob"
    config = json.loads((final / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 8
    assert sorted(config["target_modules"]) == ["fc_in", "fc_mid", "fc_out"]
    assert config["base_model_name_or_path"] == "mebench-toy-blob"
    # the adapter changes the base model's output once loaded by peft itself
    x, t, c = torch.randn(4, 2), torch.rand(4), torch.randn(4, 16)
    base = ToyVelocityNet(seed=0)
    reference = base(x, t, c)
    tuned = PeftModel.from_pretrained(ToyVelocityNet(seed=0), str(final))
    assert not torch.allclose(tuned(x, t, c), reference)
    recipe = json.loads((tmp_path / "recipe.json").read_text())
    assert recipe["recipe"] == "toy-blob" and recipe["training"]["max_steps"] == 2


def test_gradient_checkpointing_changes_nothing(pm: MebenchPluginManager,
                                                tmp_path: Path) -> None:
    plain = _train(pm, tmp_path / "plain", "training.max_steps=2")
    ckpt = _train(pm, tmp_path / "ckpt", "training.max_steps=2",
                  "training.gradient_checkpointing=true")
    a, b = _checkpoint_tensors_no_ema(plain), _checkpoint_tensors_no_ema(ckpt)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert _log(tmp_path / "plain")[1]["loss"] == pytest.approx(_log(tmp_path / "ckpt")[1]["loss"])


def _checkpoint_tensors_no_ema(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return dict(load_file(str(folder / "adapter_model.safetensors")))


def test_a_group_with_a_failed_reward_sits_the_step_out(pm: MebenchPluginManager,
                                                         tmp_path: Path) -> None:
    from mebench.trainers.build import build_trainer

    config = load_recipe_file(builtin_recipe_dir() / "toy-blob.yaml")
    trainer = build_trainer(config, output=tmp_path, pm=pm, progress=False)
    blob = trainer.rewards["blob-target"]

    def failing_first(prompts, images):  # type: ignore[no-untyped-def]
        values = blob(prompts, images).clone()
        values[0] = float("nan")  # as the MLLM reward reports a judge failure
        return values

    trainer.rewards["blob-target"] = failing_first
    record = trainer.train_step(0)
    assert record["reward_failures"] == 1 and record["groups_kept"] == 7
    assert record["reward_mean"] == pytest.approx(record["rewards"]["blob-target"])
    assert record["loss"] is not None and record["grad_norm"] is not None


def _counting_trainer(pm: MebenchPluginManager, out: Path,  # type: ignore[no-untyped-def]
                     *overrides: str):
    from mebench.trainers.build import build_trainer

    config = load_recipe_file(builtin_recipe_dir() / "toy-blob.yaml", overrides=overrides)
    trainer = build_trainer(config, output=out, pm=pm, progress=False)
    calls: list[int] = []
    velocity = trainer.backbone.velocity

    def counted(x_t, t, cond, *, adapter):  # type: ignore[no-untyped-def]
        calls.append(x_t.shape[0])
        return velocity(x_t, t, cond, adapter=adapter)

    trainer.backbone.velocity = counted  # type: ignore[method-assign]
    return trainer, calls


def test_trained_times_and_micro_batches(pm: MebenchPluginManager, tmp_path: Path) -> None:
    whole, calls = _counting_trainer(pm, tmp_path / "a")
    whole.train_step(0)
    # 6 sampling steps of 64 images, then 6 times x (theta, old, base) on all 64
    assert calls == [64] * 6 + [64] * 18
    two, calls = _counting_trainer(pm, tmp_path / "b", "nft.train_timesteps=2")
    two.train_step(0)
    assert calls == [64] * 6 + [64] * 6
    micro, calls = _counting_trainer(pm, tmp_path / "c", "training.micro_batch_size=16")
    micro.train_step(0)
    assert calls == [64] * 6 + [16] * 72
    # accumulated micro-batch gradients give the same update as one batch
    for name, param in whole.params.items():
        assert torch.allclose(param, micro.params[name], atol=1e-6), name
