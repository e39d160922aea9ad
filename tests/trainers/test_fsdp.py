"""FSDP2 sharding of the frozen text encoders (``trainers/fsdp.py``) in distributed training.

The end-to-end test launches ``mebench train`` on the tiny FLUX.1 Kontext pipeline twice with 2
CPU ranks (gloo) under ``accelerate launch``: with ``training.fsdp_text_encoder`` on (the default)
each rank must report holding about half of CLIP's and of T5's parameters, and the trained LoRA
adapters and the log (with a held-out evaluation after the last step, which every rank runs)
must be exactly those of the same launch with it off (the sharded encoders give the very same
prompt embeddings on the CPU, where the weights are used as loaded).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "editors"))
from test_diffusers_backbone import _settings, tiny_flux, train_parquet  # noqa: E402,F401
from tiny_pipelines import flux_kontext_pipeline, qwen_vl_encoder  # noqa: E402

from mebench.distributed import DistContext  # noqa: E402
from mebench.errors import MebenchError  # noqa: E402
from mebench.trainers.fsdp import (  # noqa: E402
    frozen_text_encoders, shard_for_training, shard_text_encoders, transformer_blocks,
)
from mebench.trainers.recipe import builtin_recipe_dir, load_recipe_file  # noqa: E402

LINE = re.compile(r"rank (\d)/2: FSDP sharded (\w+) \((\w+), (\d+) blocks \+ root\): "
                  r"(\d+) of (\d+) parameters")
# held-out evaluation after the last step, on every rank (its encode all-gathers too)
EVAL = [arg for s in ("dataset.limit=1", "eval.every=2", "eval.samples=1")
        for arg in ("--set", s)]


def _launch(model: Path, data: Path, out: Path, home: Path,
            *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
               "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
               "--dynamo_backend", "no", "-m", "mebench", "train",
               "--recipe", "motionnft-flux-kontext", *_settings(model, data, 2),
               *EVAL, "--output", str(out), "--no-progress", *extra]
    env = {**os.environ, "MEBENCH_HOME": str(home), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("motionnft-flux-kontext: 2 steps") == 1
    return result


def _adapters(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {f"{sub}/{key}": value for sub in (".", "old")
            for key, value in load_file(str(folder / sub / "adapter_model.safetensors")).items()}


def _log(out: Path) -> list[dict]:
    rows = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_two_ranks_shard_the_flux_encoders_and_train_as_without(
        tiny_flux: Path, train_parquet: Path, tmp_path: Path) -> None:  # noqa: F811
    sharded = _launch(tiny_flux, train_parquet, tmp_path / "on", tmp_path / "home")
    plain = _launch(tiny_flux, train_parquet, tmp_path / "off", tmp_path / "home",
                    "--set", "training.fsdp_text_encoder=false")

    # every rank says what it sharded: each holds about half of each encoder
    found = {(int(m[1]), m[2]): (m[3], int(m[4]), int(m[5]), int(m[6]))
             for m in LINE.finditer(sharded.stderr)}
    assert sorted(found) == [(r, n) for r in (0, 1) for n in ("text_encoder", "text_encoder_2")]
    assert found[0, "text_encoder"][:2] == ("CLIPTextModel", 2)  # 2 CLIP layers
    assert found[0, "text_encoder_2"][:2] == ("T5EncoderModel", 2)  # 2 T5 blocks
    for name in ("text_encoder", "text_encoder_2"):
        total = found[0, name][3]
        assert found[1, name][3] == total
        assert found[0, name][2] + found[1, name][2] == total  # the shards partition it
        assert all(0.4 * total < found[r, name][2] < 0.6 * total for r in (0, 1))
    assert "FSDP sharded" not in plain.stderr

    # the same training, to the bit: identical prompt embeddings whether sharded or not
    log = _log(tmp_path / "on")
    assert log == _log(tmp_path / "off")
    assert [r["step"] for r in log] == [0, 1] and log[1]["eval_mas"] is not None
    on = _adapters(tmp_path / "on" / "checkpoints" / "step-000002")
    off = _adapters(tmp_path / "off" / "checkpoints" / "step-000002")
    first = _adapters(tmp_path / "on" / "checkpoints" / "step-000001")
    assert on.keys() == off.keys() and len(on) > 0
    for key in on:
        assert torch.allclose(on[key], off[key], rtol=0, atol=1e-6), key
    moved = max(float((on[k] - first[k]).abs().max()) for k in on)
    assert moved > 1e-3, moved  # the tolerance is far below what one step changes
    # the checkpoint holds the LoRA adapters only, never the (sharded) text encoders
    files = {p.name for p in (tmp_path / "on" / "checkpoints" / "step-000002").rglob("*")}
    assert not any("text_encoder" in f for f in files)
    assert not any("text_encoder" in k or "encoder.block" in k for k in on)


def test_blocks_are_found_in_clip_t5_and_qwen_vl() -> None:
    pipe = flux_kontext_pipeline()
    clip, t5 = pipe.text_encoder, pipe.text_encoder_2
    assert transformer_blocks(clip) == list(clip.get_submodule("encoder.layers"))  # transformers 5
    assert transformer_blocks(t5) == list(t5.encoder.block)  # not each block's own `layer` list
    qwen, _, _ = qwen_vl_encoder()
    names = [type(b).__name__ for b in transformer_blocks(qwen)]
    assert names == ["Qwen2_5_VLVisionBlock"] * 2 + ["Qwen2_5_VLDecoderLayer"] * 2


def test_a_single_process_shards_nothing(tiny_flux: Path) -> None:  # noqa: F811
    from mebench.trainers.diffusers_backbone import FluxKontextBackbone
    from mebench.trainers.toy import ToyBackbone

    backbone = FluxKontextBackbone(model=str(tiny_flux), local_files_only=True)
    encoders = frozen_text_encoders(backbone)
    assert encoders == {"text_encoder": backbone.pipe.text_encoder,
                        "text_encoder_2": backbone.pipe.text_encoder_2}
    assert shard_text_encoders(backbone, DistContext()) == []
    assert type(backbone.pipe.text_encoder_2).__name__ == "T5EncoderModel"  # untouched
    assert frozen_text_encoders(ToyBackbone(size=16, seed=0)) == {}


def test_uneven_groups_are_refused_before_sharding(tiny_flux: Path) -> None:  # noqa: F811
    """A backbone may encode once per prompt: every rank must get as many prompts per step."""
    from mebench.trainers.diffusers_backbone import FluxKontextBackbone
    from mebench.trainers.toy import ToyBackbone

    backbone = FluxKontextBackbone(model=str(tiny_flux), local_files_only=True)
    two_ranks = DistContext(rank=0, world_size=2)  # checked before any collective
    path = builtin_recipe_dir() / "motionnft-flux-kontext.yaml"
    uneven = load_recipe_file(path, overrides=["sampling.groups_per_step=3"])
    with pytest.raises(MebenchError, match="not a multiple of the 2 ranks") as err:
        shard_for_training(backbone, two_ranks, config=uneven, device=torch.device("cpu"))
    assert "training.fsdp_text_encoder=false" in str(err.value)
    off = load_recipe_file(path, overrides=["sampling.groups_per_step=3",
                                            "training.fsdp_text_encoder=false"])
    assert shard_for_training(backbone, two_ranks, config=off, device=torch.device("cpu")) == []
    toy = ToyBackbone(size=16, seed=0)  # no text encoder: nothing to shard, nothing refused
    assert shard_for_training(toy, two_ranks, config=uneven, device=torch.device("cpu")) == []


def test_recipe_setting() -> None:
    path = builtin_recipe_dir() / "toy-blob.yaml"
    default = load_recipe_file(path)
    off = load_recipe_file(path, overrides=["training.fsdp_text_encoder=false"])
    assert default.training.fsdp_text_encoder is True
    assert off.training.fsdp_text_encoder is False
    assert off.resume_hash() == default.resume_hash()  # a resumed run may switch it
    assert off.content_hash() != default.content_hash()
    with pytest.raises(MebenchError, match="true or false") as err:
        load_recipe_file(path, overrides=["training.fsdp_text_encoder=sometimes"])
    assert "training.fsdp_text_encoder" in str(err.value)
