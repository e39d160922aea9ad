"""``mebench train`` and ``mebench list recipes`` through the CLI, in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_list_recipes_shows_the_builtins(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("list", "recipes", "--json")
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.output)["recipes"]}
    assert {"motionnft", "motionnft-flux-kontext", "uniworld-v2", "motion-only",
            "toy-blob"} <= set(rows)
    assert rows["toy-blob"]["distribution"] == "mebench"
    assert rows["motionnft"]["description"].startswith("MotionNFT, the paper's recipe")


def test_train_the_toy_end_to_end(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    result = invoke("train", "--recipe", "toy-blob", "--set", "training.max_steps=3",
                    "--set", "training.checkpoint_every=2", "--output", str(out),
                    "--no-progress")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("toy-blob: 3 steps, mean reward 0.248 -> ")
    assert result.output.rstrip().endswith(str(out / "checkpoints" / "step-000003"))
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-000002",
                                                                      "step-000003"]
    assert [json.loads(x)["step"] for x in (out / "train_log.jsonl").read_text().splitlines()
            ] == [0, 1, 2]
    again = invoke("train", "--recipe", "toy-blob", "--set", "training.max_steps=4",
                   "--output", str(out), "--no-progress", "--resume")
    assert again.exit_code == 0 and "4 steps" in again.output


def test_train_errors(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    real = invoke("train", "--recipe", "motionnft", "--set",  # no hub look-up
                  f"backbone.model={tmp_path / 'no-pipeline'}", "--output", str(tmp_path / "q"))
    assert real.exit_code == 2 and "no Qwen-Image-Edit pipeline folder" in real.output
    assert "backbone.model" in real.output
    typo = invoke("train", "--recipe", "toy-blob", "--set", "backbone.name=qwen-image-edt")
    assert typo.exit_code == 2 and "did you mean 'qwen-image-edit'" in typo.output
    flux = invoke("train", "--recipe", "motionnft-flux-kontext", "--set",  # no hub look-up
                  f"backbone.model={tmp_path / 'no-pipeline'}", "--output", str(tmp_path / "f"))
    assert flux.exit_code == 2 and "FLUX.1 Kontext" in flux.output
    unknown = invoke("train", "--recipe", "motionft")
    assert unknown.exit_code == 2 and "did you mean 'motionnft'" in unknown.output
    bad = invoke("train", "--recipe", "toy-blob", "--set", "nft.beta=0")
    assert bad.exit_code == 2
    assert "Error: --set:1: nft.beta: expected a number > 0, got 0" in bad.output
    dry = invoke("train", "--recipe", "uniworld-v2", "--dry-run")
    assert dry.exit_code == 0
    assert [r["name"] for r in json.loads(dry.output)["rewards"]] == ["mllm"]
    assert not (tmp_path / "q").exists()


def test_help_and_list_do_not_import_torch() -> None:
    code = ("import sys; from mebench.cli.main import main\n"
            "try:\n    main(['list', 'recipes'])\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "assert 'peft' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "toy-blob" in done.stdout


def test_a_plugin_recipe_file_is_listed_and_trains(pm,  # type: ignore[no-untyped-def]
                                                    tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mebench.cli.main import build_cli
    from mebench.hookspecs import hookimpl
    from mebench.trainers.plugin import file_recipe
    from mebench.trainers.recipe import builtin_recipe_dir

    text = (builtin_recipe_dir() / "toy-blob.yaml").read_text()
    path = tmp_path / "my-toy.yaml"
    path.write_text(text.replace("recipe: toy-blob", "recipe: my-toy").replace(
        "description: Toy", "description: My toy"))
    (tmp_path / "misnamed.yaml").write_text(text)

    class Plugin:
        @hookimpl
        def mebench_register_recipes(self, register) -> None:  # type: ignore[no-untyped-def]
            for file in (path, tmp_path / "misnamed.yaml"):
                name, factory, description = file_recipe(file)
                register(name, factory, description=description)

    pm.add_plugin(Plugin(), name="my-recipes", distribution="mebench-my", version="0.2")
    cli = build_cli(pm)
    listed = CliRunner().invoke(cli, ["list", "recipes"], obj=pm)
    assert "my-toy" in listed.output and "My toy MotionNFT" in listed.output
    assert "mebench-my 0.2" in listed.output
    run = CliRunner().invoke(cli, ["train", "--recipe", "my-toy", "--set", "training.max_steps=1",
                                   "--output", str(tmp_path / "out"), "--no-progress"], obj=pm)
    assert run.exit_code == 0, run.output
    assert run.output.startswith("my-toy: 1 step, mean reward 0.248 -> 0.248;")
    bad = CliRunner().invoke(cli, ["train", "--recipe", "misnamed", "--dry-run"], obj=pm)
    assert bad.exit_code == 2
    assert "recipe 'toy-blob' is registered as 'misnamed'" in bad.output
