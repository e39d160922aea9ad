"""Data-parallel MotionNFT: 2 CPU ranks (gloo) under `accelerate launch`, against one process.

The two ranks split each step's 8 groups (4 each); the rewards are gathered, so the logged
rewards, the filter and the advantages equal the single process's exactly. The LoRA weights match
to float32 rounding only: each rank sums its 32 images' loss terms and the ranks' gradients are
then summed, where one process sums all 64 in one batch, so the order of the float32 additions
differs (observed: at most ~1e-6 after 3 steps at lr 1e-2).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mebench.plugin_manager import MebenchPluginManager
from mebench.trainers.build import run_recipe
from mebench.trainers.recipe import builtin_recipe_dir, load_recipe_file

COMMON = ("training.checkpoint_every=2",)


def _accelerate(out: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    sets = [x for s in COMMON for x in ("--set", s)]
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
               "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
               "--dynamo_backend", "no", "-m", "mebench", "train", "--recipe", "toy-blob",
               *sets, "--output", str(out), "--no-progress", *args]
    env = {**os.environ, "MEBENCH_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)


def _tensors(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    out = {}
    for sub in (".", "old"):
        for key, value in load_file(str(folder / sub / "adapter_model.safetensors")).items():
            out[f"{sub}/{key}"] = value
    return out


def _log(out: Path) -> list[dict]:
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_two_ranks_train_like_one_process_and_resume(pm: MebenchPluginManager,
                                                     tmp_path: Path) -> None:
    multi, home = tmp_path / "multi", tmp_path / "home"
    # 1. two ranks, 2 steps; then the same launch resumed to 3 steps
    first = _accelerate(multi, home, "--set", "training.max_steps=2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("toy-blob: 2 steps") == 1  # rank 0 alone prints the summary
    again = _accelerate(multi, home, "--set", "training.max_steps=3", "--resume")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("toy-blob: 3 steps") == 1

    # 2. one process, 3 steps straight through
    config = load_recipe_file(builtin_recipe_dir() / "toy-blob.yaml",
                              overrides=[*COMMON, "training.max_steps=3"])
    single = run_recipe(config, output=tmp_path / "single", pm=pm, progress=False)

    # one checkpoint set, written by rank 0 alone, and one log line per step
    assert sorted(p.name for p in (multi / "checkpoints").iterdir()) == [
        "step-000002", "step-000003"]
    two, one = _log(multi), _log(tmp_path / "single")
    assert [r["step"] for r in two] == [0, 1, 2]
    for a, b in zip(one, two, strict=True):  # the gathered rewards: exactly the same
        for key in ("reward_mean", "reward_std", "rewards", "groups_kept", "old_decay"):
            assert a[key] == b[key], (a["step"], key)
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-6)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-5)
    a, b = _tensors(single), _tensors(multi / "checkpoints" / "step-000003")
    assert a.keys() == b.keys() and len(a) == 12
    base = _tensors(multi / "checkpoints" / "step-000002")
    for key in a:
        assert torch.allclose(a[key], b[key], rtol=0, atol=1e-5), key
    # the tolerance is far below what one step changes
    moved = max(float((b[k] - base[k]).abs().max()) for k in a if k.startswith("./"))
    assert moved > 1e-3, moved
