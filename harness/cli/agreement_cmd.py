"""``mebench agreement``: human annotators against each other and against the judge."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mebench.errors import MebenchError

_RUN_PATH = click.Path(exists=True, file_okay=False, path_type=Path)


def register(cli: click.Group) -> None:
    @cli.command("agreement")
    @click.argument("annotations", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--runs", "runs", multiple=True, type=_RUN_PATH, metavar="RUN",
                  help="Judged run directories (or folders of them) whose run names (or model "
                  "names, where unique) are the annotations' models; repeat the option. Without it, only the annotators' "
                  "agreement is reported.")
    @click.option("--format", "fmt", default="table", show_default=True,
                  type=click.Choice(["table", "markdown", "json"]))
    @click.option("--seed", type=int, default=0, show_default=True,
                  help="Seed of the bootstrap over items.")
    @click.option("--resamples", type=click.IntRange(min=10), default=1000, show_default=True,
                  help="Bootstrap resamples for the 95% confidence intervals.")
    def agreement(annotations: Path, runs: tuple[Path, ...], fmt: str, seed: int,
                  resamples: int) -> None:
        """Fleiss' and Cohen's kappa of pairwise annotations (CSV or JSONL).

        Fields: item_id, sample_id, model_a, model_b, annotator, choice (A|B|tie); `mebench
        pairs` writes such a sheet. With --runs, the annotators' majority and each annotator
        are also compared with the judge's decision (the higher Overall wins).
        """
        from mebench.analysis.agreement import (agreement_report, build_items,
                                                read_annotations, report_rows)
        from mebench.analysis.runs import load_run_dirs, name_index
        from mebench.compare import render_grid

        try:
            import statsmodels  # noqa: F401 - the kappa statistics
        except ImportError as exc:
            raise MebenchError("mebench agreement needs statsmodels",
                               hint='pip install "mebench[stats]"') from exc
        items = build_items(read_annotations(annotations))
        overall = None
        if runs:
            loaded = load_run_dirs(list(runs))
            tasks = sorted({run.task for run in loaded})
            if len(tasks) > 1:
                raise MebenchError(f"the runs are of different tasks: {', '.join(tasks)}",
                                   where="--runs", hint="pass the runs of the annotated task")
            named = name_index(loaded)
            overall = {name: run.overall() for name, run in named.items()}
        report = agreement_report(items, overall, seed=seed, resamples=resamples)
        if fmt == "json":
            click.echo(json.dumps(report, indent=2))
            return
        headers, body, footer = report_rows(report)
        click.echo(render_grid(headers, body, fmt, footer=footer), nl=False)
