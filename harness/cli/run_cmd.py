"""``mebench run`` and ``mebench score``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mebench.cli.options import include_path_option, parse_kv, split_names, task_index
from mebench.errors import MebenchError
from mebench.plugin_manager import MebenchPluginManager


def _common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--task", "task_name", required=True,
                     help="Task name (see `mebench list tasks`) or path to a task YAML file."),
        include_path_option,
        click.option("--flow", default=None, help="Flow estimator (default: the task's)."),
        click.option("--flow-args", default=None, metavar="K=V,...",
                     help="Arguments of the flow estimator."),
        click.option("--limit", type=int, default=None, help="Only the first N samples."),
        click.option("--seed", type=int, default=None, help="Run seed (default: the task's)."),
        click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Root of the run folders (default results/runs/<task>); each model "
                     "writes <output>/<model>."),
        click.option("--dataset-path", default=None, metavar="PATH",
                     help="A local copy of the dataset (parquet file or folder, or a folder with "
                     "metadata.jsonl)."),
        click.option("--dataset-args", default=None, metavar="K=V,...",
                     help="Dataset options, e.g. size=512,num_samples=120 for the synthetic task."),
        click.option("--device", default=None, help="Device for models and flow (cpu, cuda, ...)."),
        click.option("--flow-batch-size", type=int, default=8, show_default=True),
        click.option("--flow-dtype", default="fp32", show_default=True,
                     type=click.Choice(["fp32", "bf16", "fp16"]),
                     help="Run a learned flow estimator under torch.autocast in this dtype."),
        click.option("--save-flow", is_flag=True,
                     help="Also write flows/<id>_gt.png and flows/<id>_pred.png (Middlebury "
                     "colour coding) in each run folder."),
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
                     default=None, help="Flow cache (default $MEBENCH_HOME/cache)."),
        click.option("--no-cache", is_flag=True, help="Do not read or write the flow cache."),
        click.option("--no-progress", is_flag=True, help="Hide progress bars."),
        click.option("--judge", default=None, metavar="NAME",
                     help="MLLM judge (see `mebench list judges`), replacing the task's judge: "
                     "section; 'none' skips judging."),
        click.option("--judge-args", default=None, metavar="K=V,...",
                     help="Judge arguments, over the task's: model=, mode=rubric|expected-score, "
                     "prompt=, reference=true, base_url=, temperature=, seed=, max_tokens=, "
                     "timeout=, max_retries=."),
        click.option("--judge-concurrency", type=int, default=None, metavar="N",
                     help="Judge requests in flight at once (default: the judge's own, e.g. "
                     "16 for openai, 8 for gemini)."),
        click.option("--format", "fmt", default="table", show_default=True,
                     type=click.Choice(["table", "markdown", "latex", "csv", "json"]),
                     help="Format of the summary table."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _execute(pm: MebenchPluginManager, models: list[tuple[str, dict[str, Any]]],
             kw: dict[str, Any]) -> None:
    from mebench.analysis.runs import load_run_dirs
    from mebench.analysis.winrate import TIE_RULE, win_rates
    from mebench.compare import measured_rows, render
    from mebench.data import effective_dataset
    from mebench.runner import ModelChoice, Runner, RunOptions

    if kw["limit"] is not None and kw["limit"] <= 0:
        raise MebenchError(f"--limit must be a positive number of samples, got {kw['limit']}",
                           where="--limit")
    task = task_index(pm, kw["include_paths"]).load(kw["task_name"])
    dataset = effective_dataset(task, kw["dataset_path"],
                                parse_kv(kw["dataset_args"], "--dataset-args"))
    options = RunOptions(
        task=task, dataset=dataset, models=[ModelChoice(n, a) for n, a in models],
        flow=kw["flow"], flow_args=parse_kv(kw["flow_args"], "--flow-args"),
        limit=kw["limit"], seed=kw["seed"], output=kw["output"], device=kw["device"],
        batch_size=kw.get("batch_size", 1), flow_batch_size=kw["flow_batch_size"],
        flow_dtype=None if kw["flow_dtype"] == "fp32" else kw["flow_dtype"],
        save_flow=kw["save_flow"],
        cache_dir=kw["cache_dir"], use_cache=not kw["no_cache"],
        progress=not kw["no_progress"], command=["mebench", *sys.argv[1:]],
        judge=kw["judge"], judge_args=parse_kv(kw["judge_args"], "--judge-args"),
        judge_concurrency=kw["judge_concurrency"],
    )
    summaries = Runner(pm, options).run()
    loaded = load_run_dirs([s.path for s in summaries])
    rates = [None if w is None else w.rate for w in win_rates(loaded)]
    footer = None
    if any(r is not None for r in rates):
        footer = f"Win Rate: among the runs above (higher Overall wins; {TIE_RULE})"
    click.echo(render(measured_rows([r.results for r in loaded], rates), kw["fmt"],
                      footer=footer), nl=False)
    for s in summaries:
        r = s.results
        mas = r["metrics"].get("mas", {}).get("mean")
        mas_text = "" if mas is None else f", MAS {mas:.2f}"
        if "judge" in r:
            j = r["judge"]
            mas_text += f", judged {j['n_judged'] - j['n_failed']}/{j['n_judged']} ({j['name']})"
        click.echo(f"{s.model.slug}: {r['n_scored']}/{r['n']} scored, {r['n_failed']} failed"
                   f"{mas_text} -> {s.path}")


def register(cli: click.Group) -> None:
    @cli.command("run")
    @click.option("--model", "model_names", required=True, metavar="A,B",
                  help="Model(s), comma-separated (see `mebench list models`).")
    @click.option("--model-args", "model_args", multiple=True, metavar="K=V,...",
                  help="Model arguments; once for all models, or once per model in order.")
    @click.option("--batch-size", type=int, default=1, show_default=True)
    @_common_options
    @click.pass_obj
    def run(pm: MebenchPluginManager, model_names: str, model_args: tuple[str, ...],
            **kw: Any) -> None:
        """Run models on a task: generate, measure motion, aggregate, print the table."""
        names = split_names(model_names)
        if len(model_args) not in (0, 1, len(names)):
            raise click.UsageError(f"give --model-args once, or once for each of the "
                                   f"{len(names)} models")
        parsed = [parse_kv(a, "--model-args") for a in model_args] or [{}]
        per_model = parsed * len(names) if len(parsed) == 1 else parsed
        _execute(pm, list(zip(names, per_model)), kw)

    @cli.command("score")
    @click.option("--outputs", required=True, type=click.Path(file_okay=False),
                  help="Folder of edited images named <sample id>.png (or .jpg/.webp).")
    @_common_options
    @click.pass_obj
    def score(pm: MebenchPluginManager, outputs: str, **kw: Any) -> None:
        """Score images made elsewhere (the same as `run --model folder --model-args path=DIR`)."""
        _execute(pm, [("folder", {"path": str(Path(outputs).resolve())})], kw)
