"""``mebench train``: run a training recipe (MotionNFT), resumable."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mebench.errors import MebenchError
from mebench.plugin_manager import MebenchPluginManager


def register(cli: click.Group) -> None:
    @cli.command("train")
    @click.option("--recipe", "recipe_name", required=True,
                  help="Recipe name (see `mebench list recipes`).")
    @click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                  help="Override a recipe field, e.g. --set optimizer.lr=1e-4 or "
                  "--set rewards.0.weight=0.3 (repeatable; values read as YAML).")
    @click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Output folder (default results/train/<recipe>).")
    @click.option("--resume", is_flag=True,
                  help="Continue from the latest checkpoint in the output folder.")
    @click.option("--dry-run", is_flag=True,
                  help="Validate the recipe and print it as JSON; train nothing.")
    @click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
    @click.pass_obj
    def train(pm: MebenchPluginManager, recipe_name: str, overrides: tuple[str, ...],
              output: Path | None, resume: bool, dry_run: bool, no_progress: bool) -> None:
        """Post-train an editor with a recipe; writes checkpoints and train_log.jsonl."""
        recipe = pm.get("recipe", recipe_name).build({})
        if not callable(getattr(recipe, "load", None)) or not callable(
                getattr(recipe, "train", None)):
            raise MebenchError("the recipe object has no load()/train()",
                               where=f"recipe {recipe_name!r}")
        config = recipe.load(overrides)
        if dry_run:
            click.echo(json.dumps(config.to_dict(), indent=2, sort_keys=True))
            return
        out = output if output is not None else Path("results") / "train" / recipe_name
        final = recipe.train(config, output=out, pm=pm, resume=resume,
                             progress=not no_progress)
        log = out / "train_log.jsonl"  # written by mebench's trainer; a plugin's may not
        if not log.is_file():
            click.echo(f"{recipe_name}: checkpoint {final}")
            return
        lines = log.read_text(encoding="utf-8").splitlines()
        first, last = json.loads(lines[0]), json.loads(lines[-1])
        steps = last["step"] + 1
        click.echo(f"{recipe_name}: {steps} step{'' if steps == 1 else 's'}, mean reward "
                   f"{_num(first['reward_mean'])} -> {_num(last['reward_mean'])}; "
                   f"checkpoint {final}")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
