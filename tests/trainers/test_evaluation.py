"""Held-out evaluation during training (eval_mas in the log, eval_mas.png), the recipe's eval and
logging sections, and the TensorBoard option."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from mebench.errors import MebenchError
from mebench.plugin_manager import MebenchPluginManager
from mebench.trainers.build import build_trainer, load_prompts, run_recipe
from mebench.trainers.evaluation import heldout_prompts, plot_eval_curve, read_eval_curve
from mebench.trainers.recipe import RecipeConfig, builtin_recipe_dir, load_recipe_file

FAST = ("training.max_steps=4", "training.checkpoint_every=4", "sampling.groups_per_step=2",
        "sampling.group_size=4")


def _config(*overrides: str) -> RecipeConfig:
    return load_recipe_file(builtin_recipe_dir() / "toy-blob.yaml", overrides=[*FAST, *overrides])


def _log(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]


def test_eval_every_two_steps_logs_mas_and_draws_the_curve(pm: MebenchPluginManager,
                                                         tmp_path: Path) -> None:
    run_recipe(_config("eval.every=2", "eval.samples=3"), output=tmp_path, pm=pm,
               progress=False)
    log = _log(tmp_path)
    evaluated = [r for r in log if "eval_mas" in r]
    assert [r["step"] for r in evaluated] == [1, 3]
    assert [r["eval_updates"] for r in evaluated] == [2, 4]
    for r in evaluated:
        assert 0.0 <= r["eval_mas"] <= 100.0 and 0.0 <= r["eval_motion_reward"] <= 1.0
    assert "eval_mas" not in log[0] and "eval_mas" not in log[2]
    assert read_eval_curve(tmp_path / "train_log.jsonl") == [
        (2, evaluated[0]["eval_mas"]), (4, evaluated[1]["eval_mas"])]
    image = Image.open(tmp_path / "eval_mas.png").convert("RGB")
    assert image.size == (640, 400)
    assert (31, 119, 180) in {c for _, c in image.getcolors(maxcolors=1 << 16)}  # the curve


def test_no_eval_section_means_no_eval_fields_and_no_plot(pm: MebenchPluginManager,
                                                          tmp_path: Path) -> None:
    run_recipe(_config(), output=tmp_path, pm=pm, progress=False)
    assert all("eval_mas" not in r for r in _log(tmp_path))
    assert not (tmp_path / "eval_mas.png").exists()


def test_heldout_prompts_are_new_prompts_of_the_same_generator() -> None:
    config = _config("eval.samples=5")
    train, held = load_prompts(config), heldout_prompts(config)
    assert len(held) == 5 and len(train) == 8
    assert not {p.instruction for p in train} & {p.instruction for p in held}
    assert all(p.id.startswith("heldout-") and p.target is not None for p in held)
    # deterministic: the same prompts every time
    assert [p.instruction for p in heldout_prompts(config)] == [p.instruction for p in held]


def test_evaluation_is_deterministic_and_ema_weights_are_restored(
        pm: MebenchPluginManager, tmp_path: Path) -> None:
    config = _config("eval.every=1", "eval.samples=4", "ema.enabled=true", "eval.adapter=ema")
    trainer = build_trainer(config, output=tmp_path, pm=pm, progress=False)
    assert trainer.monitor is not None and trainer.ema is not None
    trainer.train_step(0)
    trainer.train_step(1)
    before = {n: p.detach().clone() for n, p in trainer.params.items()}
    first = trainer.monitor.evaluate(trainer)
    assert trainer.monitor.evaluate(trainer) == first
    for name, param in trainer.params.items():
        assert torch.equal(param, before[name]), name
    # the EMA weights differ from the current ones, and evaluation uses them
    current = dataclasses.replace(config, eval=dataclasses.replace(config.eval,
                                                                   adapter="current"))
    assert any(not torch.equal(trainer.ema.shadow[n], before[n]) for n in before)
    trainer.monitor.config = current
    assert trainer.monitor.evaluate(trainer)["eval_mas"] != first["eval_mas"]


@pytest.mark.parametrize(("override", "message"), [
    ("eval.every=0", "an integer >= 1"),
    ("eval.adapter=best", "one of current, ema"),
    ("eval.adapter=ema", "needs the EMA"),
    ("eval.sample=3", "unknown key 'sample'"),
    ("logging.tensorboard=maybe", "true or false"),
])
def test_bad_eval_and_logging_settings_name_the_field(override: str, message: str) -> None:
    with pytest.raises(MebenchError) as info:
        _config(override)
    assert message in str(info.value)
    assert str(info.value.where).startswith(f"--set:{len(FAST) + 1}: ")


def test_bad_eval_in_a_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("include: " + str(builtin_recipe_dir() / "toy-blob.yaml") +
                    "\neval:\n  every: 2\n  adapter: ema\n")
    with pytest.raises(MebenchError) as info:
        load_recipe_file(path)
    assert info.value.where == f"{path}:4: eval.adapter"


def test_dataset_without_limit_has_no_heldout_rows(tmp_path: Path) -> None:
    config = _config("eval.every=2")
    parquet = dataclasses.replace(config, dataset=dataclasses.replace(
        config.dataset, source="parquet", path=str(tmp_path / "x.parquet"), options={}))
    with pytest.raises(MebenchError, match="held-out") as info:
        heldout_prompts(parquet)
    assert "dataset.limit" in str(info.value)


def test_eval_resume_hash_ignores_eval_and_logging() -> None:
    assert _config().resume_hash() == _config("eval.every=3",
                                              "logging.tensorboard=true").resume_hash()
    assert _config().content_hash() != _config("eval.every=3").content_hash()


def test_tensorboard_without_the_package_is_a_clear_error(
        pm: MebenchPluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",  # as if it were not installed
                        lambda name, *a: None if name == "tensorboard" else find_spec(name, *a))
    with pytest.raises(MebenchError) as info:
        build_trainer(_config("logging.tensorboard=true"), output=tmp_path, pm=pm,
                      progress=False)
    assert "'tensorboard' package" in str(info.value)
    assert info.value.where == "logging.tensorboard"
    assert not (tmp_path / "train_log.jsonl").exists()


def test_tensorboard_writes_the_logged_scalars(pm: MebenchPluginManager, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_recipe(_config("logging.tensorboard=true", "eval.every=2"), output=tmp_path, pm=pm,
               progress=False)
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    log = _log(tmp_path)
    assert {"loss", "eval_mas", "rewards/blob-target"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("loss")] == [r["step"] + 1 for r in log]
    assert [round(e.value, 4) for e in events.Scalars("eval_mas")] == [
        round(r["eval_mas"], 4) for r in log if "eval_mas" in r]


def test_plot_skips_a_line_cut_short(tmp_path: Path) -> None:
    log = tmp_path / "train_log.jsonl"
    log.write_text(json.dumps({"step": 0, "eval_mas": 40.0, "eval_updates": 1}) + "\n"
                   + json.dumps({"step": 1}) + "\n{\"step\": 2, \"eval_m")
    assert read_eval_curve(log) == [(1, 40.0)]
    out = plot_eval_curve(log, tmp_path / "p.png", title="t")
    assert Image.open(out).size == (640, 400)


def test_plot_draws_the_judge_curve_when_logged(tmp_path: Path) -> None:
    log = tmp_path / "train_log.jsonl"
    rows = [{"step": 1, "eval_updates": 2, "eval_mas": 30.0},
            {"step": 3, "eval_updates": 4, "eval_mas": 50.0, "eval_mllm": 0.6},
            {"step": 5, "eval_updates": 6, "eval_mas": 55.0, "eval_mllm": None}]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_eval_curve(log, "eval_mllm") == [(4, 0.6)]  # a failed judging is no point
    colours = {c for _, c in Image.open(plot_eval_curve(log, tmp_path / "p.png", title="t"))
               .convert("RGB").getcolors(maxcolors=1 << 16)}
    assert {(31, 119, 180), (255, 127, 14)} <= colours
    log.write_text("".join(json.dumps({**r, "eval_mllm": None}) + "\n" for r in rows))
    colours = {c for _, c in Image.open(plot_eval_curve(log, tmp_path / "q.png", title="t"))
               .convert("RGB").getcolors(maxcolors=1 << 16)}
    assert (255, 127, 14) not in colours


def test_eval_flow_is_the_motion_rewards_flow_unless_set() -> None:
    from mebench.trainers.evaluation import _eval_flow

    motion = load_recipe_file(builtin_recipe_dir() / "toy-blob-motion.yaml", overrides=[
        "rewards.0.args={flow: opencv-farneback, flow_args: {a: 1}}"])
    assert _eval_flow(motion) == ("opencv-farneback", {"a": 1})
    assert _eval_flow(_config()) == ("opencv-dis", {})
    assert _eval_flow(_config("eval.flow=raft", "eval.flow_args={b: 2}")) == ("raft", {"b": 2})
