"""``mebench download``: fetch registered weight files into ``$MEBENCH_HOME/weights``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mebench.errors import MebenchError, did_you_mean
from mebench.plugin_manager import MebenchPluginManager
from mebench.weights import WeightFile, download, sha256_of, weights_dir


def _listing(weights: dict[str, WeightFile], folder: Path) -> list[dict[str, object]]:
    return [{"name": w.name, "description": w.description, "file": w.filename,
             "present": (folder / w.filename).is_file(), "url": w.url}
            for w in sorted(weights.values(), key=lambda w: w.name)]


def register(cli: click.Group) -> None:
    @cli.command("download")
    @click.argument("names", nargs=-1, metavar="NAME...")
    @click.option("--all", "all_", is_flag=True, help="Download every registered weight file.")
    @click.option("--list", "list_", is_flag=True, help="List the weight files and exit.")
    @click.option("--json", "as_json", is_flag=True, help="With --list: print JSON.")
    @click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Folder to save into (default: $MEBENCH_HOME/weights).")
    @click.option("--force", is_flag=True, help="Download again even if the file is present.")
    @click.pass_obj
    def download_(pm: MebenchPluginManager, names: tuple[str, ...], all_: bool, list_: bool,
                  as_json: bool, dest: Path | None, force: bool) -> None:
        """Download model weights (e.g. `mebench download unimatch`); `--list` shows them."""
        weights = pm.weight_files()
        folder = dest if dest is not None else weights_dir()
        if list_:
            rows = _listing(weights, folder)
            if as_json:
                click.echo(json.dumps({"folder": str(folder), "weights": rows}, indent=2))
                return
            from tabulate import tabulate

            table = [[r["name"], r["description"], "yes" if r["present"] else "no", r["file"]]
                     for r in rows]
            click.echo(f"weights folder: {folder}")
            click.echo(tabulate(table, headers=["name", "description", "present", "file"],
                                tablefmt="simple"))
            return
        if all_ and names:
            raise click.UsageError("give NAMEs or --all, not both")
        if not all_ and not names:
            raise click.UsageError("give a weights NAME, --all, or --list to see the names")
        for name in names:
            if name not in weights:
                raise MebenchError(f"unknown weights {name!r}", where="mebench download",
                                   hint=did_you_mean(name, list(weights)))
        for name in (sorted(weights) if all_ else names):
            weight = weights[name]
            target = folder / weight.filename
            if target.is_file() and not force:
                click.echo(f"{name}: already present at {target}")
                continue
            path = download(weight, folder)
            click.echo(f"{name}: saved {path} (sha256 {sha256_of(path)})")
