"""``mebench motion-stats``: how much a task's (or a folder's) pairs move (paper, Figure 6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mebench.cli.options import include_path_option, parse_kv, task_index
from mebench.errors import MebenchError
from mebench.plugin_manager import MebenchPluginManager

PAIRS_DEFAULT_FLOW = "opencv-dis"


def _table(summary: dict[str, Any]) -> str:
    from tabulate import tabulate

    cols = ["n", "mean", "std", "median", "p10", "p90"]
    rows = [["all", *(summary["overall"][c] for c in cols)]]
    rows += [[name, *(d[c] for c in cols)] for name, d in summary["by_category"].items()]
    return tabulate(rows, headers=["", *cols], floatfmt=".5f", missingval="-")


def register(cli: click.Group) -> None:
    @cli.command("motion-stats")
    @click.option("--task", "task_name", default=None,
                  help="Task name or task YAML file whose input/target pairs to measure.")
    @click.option("--pairs", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Instead of a task: a folder of <id>_input.png / <id>_target.png pairs.")
    @click.option("--flow", default=None,
                  help=f"Flow estimator (default: the task's; {PAIRS_DEFAULT_FLOW} for --pairs), "
                  "or 'exact' for a task with exact flow (motionedit-synthetic).")
    @click.option("--flow-args", default=None, metavar="K=V,...")
    @click.option("--limit", type=int, default=None, help="Only the first N pairs.")
    @click.option("--dataset-path", default=None, metavar="PATH",
                  help="A local copy of the task's dataset.")
    @click.option("--dataset-args", default=None, metavar="K=V,...",
                  help="Dataset options, e.g. size=512,num_samples=120 for the synthetic task.")
    @include_path_option
    @click.option("--device", default=None, help="Device of the flow estimator.")
    @click.option("--flow-batch-size", type=int, default=8, show_default=True)
    @click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Flow cache (default $MEBENCH_HOME/cache; shared with runs).")
    @click.option("--no-cache", is_flag=True, help="Do not read or write the flow cache.")
    @click.option("--hist", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Also draw a histogram of the per-pair values to this PNG.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON (with per-pair values).")
    @click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
    @click.pass_obj
    def motion_stats(pm: MebenchPluginManager, task_name: str | None, pairs: Path | None,
                     flow: str | None, flow_args: str | None, limit: int | None,
                     dataset_path: str | None, dataset_args: str | None,
                     include_paths: tuple[str, ...], device: str | None, flow_batch_size: int,
                     cache_dir: Path | None, no_cache: bool, hist: Path | None, as_json: bool,
                     no_progress: bool) -> None:
        """Mean input-target motion per pair, divided by the image diagonal: mean, std, median,
        p10/p90 and n, per category when the task has categories."""
        from mebench import motionstats as ms
        from mebench.data import effective_dataset, load_samples

        # 1. Check inputs
        if (task_name is None) == (pairs is None):
            raise click.UsageError("give either --task or --pairs")
        if pairs is not None and (dataset_path or dataset_args):
            raise click.UsageError("--dataset-path and --dataset-args go with --task, not --pairs")
        if limit is not None and limit <= 0:
            raise MebenchError(f"--limit must be a positive number of pairs, got {limit}",
                               where="--limit")
        # 2. Samples and flow
        if task_name is not None:
            task = task_index(pm, include_paths).load(task_name)
            dataset = effective_dataset(task, dataset_path,
                                        parse_kv(dataset_args, "--dataset-args"))
            samples = load_samples(dataset, limit)
            name = flow or task.flow.name
            args = dict(task.flow.args) if flow is None else {}
            source = {"task": task.task}
        else:
            assert pairs is not None
            samples = ms.pairs_from_folder(pairs)[:limit]
            name, args = flow or PAIRS_DEFAULT_FLOW, {}
            source = {"pairs": str(pairs)}
        args.update(parse_kv(flow_args, "--flow-args"))
        if name == ms.EXACT:
            if args:
                raise MebenchError("the exact flow takes no arguments", where="--flow-args")
            service = None
        else:
            service = ms.build_flow_service(pm, name, args, device=device,
                                            batch_size=flow_batch_size, cache_dir=cache_dir,
                                            use_cache=not no_cache)
        # 3. Measure, summarise, report
        records = ms.measure(samples, service, progress=not no_progress)
        summary = ms.summarise(records)
        if hist is not None:
            ms.histogram_png([r["motion"] for r in records], hist)
        if as_json:
            out = {**source, "flow": {"name": name, "args": args}, **summary, "pairs": records}
            click.echo(json.dumps(out, indent=2))
            return
        click.echo(f"motion / image diagonal, flow {name}"
                   f"{' ' + json.dumps(args) if args else ''}:")
        click.echo(_table(summary))
        if hist is not None:
            click.echo(f"histogram -> {hist}")
