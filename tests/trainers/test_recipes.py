"""Recipe files: the built-ins match REFERENCE.md; bad input names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mebench.errors import MebenchError
from mebench.trainers.recipe import (
    RecipeConfig, builtin_recipe_dir, load_recipe_file, recipe_files,
)

TOY = """\
recipe: my-toy
version: 1
backbone:
  name: toy-blob
dataset:
  source: builtin
  path: toy-blob
  resolution: 32
rewards:
  - name: blob-target
    weight: 1.0
"""


def _load(name: str, *overrides: str) -> RecipeConfig:
    return load_recipe_file(builtin_recipe_dir() / f"{name}.yaml", overrides=overrides)


def _write(tmp_path: Path, text: str, name: str = "r.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_builtin_recipe_loads_under_its_file_name() -> None:
    files = recipe_files(builtin_recipe_dir())
    names = {p.stem for p in files}
    assert {"motionnft", "motionnft-qwen-image-edit", "motionnft-flux-kontext", "uniworld-v2",
            "motion-only", "motionnft-mllm0.3-motion0.7", "motionnft-mllm0.7-motion0.3",
            "toy-blob"} <= names
    for path in files:
        assert load_recipe_file(path).recipe == path.stem


def test_the_paper_recipe_has_reference_hyperparameters() -> None:
    c = _load("motionnft")
    assert (c.backbone.name, c.backbone.model) == ("qwen-image-edit", "Qwen/Qwen-Image-Edit-2509")
    assert c.backbone.args["true_cfg_scale"] == 1.0
    assert c.dataset.path == "elaine1wan/MotionEdit-Train" and c.dataset.resolution == 512
    assert {r.name: r.weight for r in c.rewards} == {"motion": 0.5, "mllm": 0.5}
    assert (c.lora.rank, c.lora.alpha) == (32, 64.0) and "to_q" in c.lora.target_modules
    assert (c.sampling.num_steps, c.sampling.order, c.sampling.group_size,
            c.sampling.groups_per_step) == (6, 2, 8, 24)
    assert (c.nft.beta, c.nft.kl_weight, c.nft.weight_floor) == (1.0, 1e-4, 1e-5)
    assert (c.advantages.std_eps, c.advantages.clip) == (1e-4, 5.0)
    assert (c.group_filter.std_below, c.group_filter.mean_above) == (0.05, 0.9)
    assert (c.old_policy.decay_rate, c.old_policy.decay_cap) == (0.001, 0.5)
    o = c.optimizer
    assert (o.lr, o.betas, o.weight_decay, o.grad_clip) == (3e-4, (0.9, 0.999), 1e-4, 1.0)
    assert (c.training.max_steps, c.training.mixed_precision) == (210, "bf16")
    assert c.training.gradient_checkpointing
    # the alias means the same training as the long name
    long = _load("motionnft-qwen-image-edit")
    assert {k: v for k, v in c.to_dict().items() if k not in ("recipe", "description")} == {
        k: v for k, v in long.to_dict().items() if k not in ("recipe", "description")}
    # the YAML spells out what the dataclass defaults say, so both agree with REFERENCE.md
    defaults = RecipeConfig(recipe="x", version=1, backbone=c.backbone, dataset=c.dataset,
                            rewards=c.rewards, lora=c.lora)
    for section in ("sampling", "nft", "advantages", "group_filter", "old_policy", "optimizer"):
        assert getattr(defaults, section) == getattr(c, section), section


def test_backbones_and_ablation_weights() -> None:
    flux = _load("motionnft-flux-kontext")
    assert flux.backbone.name == "flux-kontext" and flux.backbone.args["guidance_scale"] == 2.5
    assert flux.training.max_steps == 300
    weights = {name: {r.name: r.weight for r in _load(name).rewards} for name in (
        "uniworld-v2", "motion-only", "motionnft-mllm0.3-motion0.7",
        "motionnft-flux-kontext-mllm0.7-motion0.3")}
    assert weights == {"uniworld-v2": {"mllm": 1.0}, "motion-only": {"motion": 1.0},
                       "motionnft-mllm0.3-motion0.7": {"mllm": 0.3, "motion": 0.7},
                       "motionnft-flux-kontext-mllm0.7-motion0.3": {"mllm": 0.7, "motion": 0.3}}


def test_overrides() -> None:
    c = _load("toy-blob", "optimizer.lr=1e-4", "rewards.0.weight=-1", "ema.enabled=true",
              "lora.target_modules=[fc_in]")
    assert c.optimizer.lr == 1e-4 and c.rewards[0].weight == -1.0 and c.ema.enabled
    assert c.lora.target_modules == ("fc_in",)
    assert c.content_hash() != _load("toy-blob").content_hash()


@pytest.mark.parametrize(("override", "message"), [
    ("optimizer.lrr=1", "--set:1: optimizer.lrr: unknown key 'lrr' (did you mean 'lr'?"),
    ("optimizer.lr", "--set:1: 'optimizer.lr' is not key=value"),
    ("rewards.3.weight=1", "--set:1: 'rewards.3.weight': '3' is not an index of a list of 1"),
    ("optimizer.lr=fast", "--set:1: optimizer.lr: expected a number > 0, got 'fast'"),
])
def test_bad_overrides(override: str, message: str) -> None:
    with pytest.raises(MebenchError) as info:
        _load("toy-blob", override)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(("extra", "message"), [
    ("optimizer:\n  lr: 0\n", "r.yaml:13: optimizer.lr: expected a number > 0, got 0"),
    ("optimiser:\n  lr: 1\n", "r.yaml:12: optimiser: unknown key 'optimiser' (did you mean "
                              "'optimizer'?"),
    ("training:\n  mixed_precision: fp8\n", "r.yaml:13: training.mixed_precision: expected one "
                                            "of bf16, fp16, fp32, got 'fp8'"),
    ("lora:\n  rank: 2.5\n", "r.yaml:13: lora.rank: expected an integer >= 1, got 2.5"),
    ("  - name: blob-target\n    weight: 2\n", "r.yaml:12: rewards[1]: reward 'blob-target' is "
                                              "listed twice"),
    ("sampling: !!python/object:os.system {}\n", "r.yaml:12: unsupported YAML tag"),
])
def test_bad_files_name_file_line_and_field(tmp_path: Path, extra: str, message: str) -> None:
    path = _write(tmp_path, TOY + extra)
    with pytest.raises(MebenchError) as info:
        load_recipe_file(path)
    assert message in str(info.value)
    assert load_recipe_file(_write(tmp_path, TOY, "ok.yaml")).recipe == "my-toy"


def test_missing_fields_and_includes(tmp_path: Path) -> None:
    path = _write(tmp_path, "recipe: x\nversion: 1\nbackbone: {name: toy-blob}\n")
    with pytest.raises(MebenchError, match="r.yaml:1: dataset: missing required field"):
        load_recipe_file(path)
    _write(tmp_path, TOY.replace("recipe: my-toy\nversion: 1\n", ""), "_base.yaml")
    child = _write(tmp_path, "recipe: child\nversion: 2\ninclude: _base.yaml\n"
                   "optimizer: {lr: 0.5}\n", "child.yaml")
    c = load_recipe_file(child)
    assert (c.recipe, c.backbone.name, c.optimizer.lr) == ("child", "toy-blob", 0.5)
    _write(tmp_path, "include: loop-b.yaml\n", "loop-a.yaml")
    _write(tmp_path, "include: loop-a.yaml\n", "loop-b.yaml")
    with pytest.raises(MebenchError, match="include cycle"):
        load_recipe_file(tmp_path / "loop-a.yaml")
    with pytest.raises(MebenchError, match="recipe file not found"):
        load_recipe_file(tmp_path / "absent.yaml")
