"""``mebench compare``: Table 1 of the paper over finished runs."""

from __future__ import annotations

from pathlib import Path

import click


def register(cli: click.Group) -> None:
    @cli.command("compare")
    @click.argument("runs", nargs=-1, required=True,
                    type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--format", "fmt", default="table", show_default=True,
                  type=click.Choice(["table", "markdown", "latex", "csv", "json"]))
    @click.option("--reference", default=None, metavar="NAME",
                  help="Put published numbers beside the measured ones ('paper': Table 1).")
    @click.option("--by-category", is_flag=True,
                  help="Per-category breakdown of one metric (imgedit: the paper's Table 2).")
    @click.option("--metric", default=None,
                  help="The metric of the per-category breakdown (default: mas where the runs "
                  "have it, else overall).")
    def compare(runs: tuple[Path, ...], fmt: str, reference: str | None, by_category: bool,
                metric: str | None) -> None:
        """Compare finished runs (run directories, or folders of them).

        Win Rate: for each pair of runs of the same task, on every sample both judged, the run
        with the higher Overall wins; ties count one half.
        """
        from mebench.analysis.runs import load_run_dirs
        from mebench.analysis.winrate import TIE_RULE, win_rates
        from mebench.compare import (category_table, measured_rows, reference_rows, render,
                                     render_grid)

        loaded = load_run_dirs(list(runs))
        results = [run.results for run in loaded]
        tasks = sorted({r["task"] for r in results})
        records = win_rates(loaded)
        rows = measured_rows(results, [None if w is None else w.rate for w in records])
        # Table 1 is MotionEdit-Bench's; ImgEdit's published table is per category (Table 2)
        table1 = reference if tasks != ["imgedit"] else None
        if table1:
            rows += reference_rows(table1)
        notes = []
        if len(tasks) > 1:
            notes.append(f"note: these runs are of different tasks: {', '.join(tasks)} "
                         "(win rates compare runs of the same task only)")
        if any(w is not None for w in records):
            notes.append("Win Rate: % of pairwise comparisons won against the other runs of the "
                         f"same task, on samples both judged (higher Overall wins; {TIE_RULE})")
        if reference and not table1 and not by_category:
            notes.append(f"({reference}) numbers for imgedit are per category: add --by-category")
        if table1:
            notes.append(f"({reference}) rows: published numbers on MotionEdit-Bench (task "
                         "motionedit); judge columns are Gemini-rated 0-5")
        footer = "\n".join(notes) or None
        click.echo(render(rows, fmt, footer=footer), nl=False)
        if by_category:
            if metric is None:
                metric = "mas" if all("mas" in r["metrics"] for r in results) else "overall"
            headers, body, note = category_table(results, metric,
                                                 reference if tasks == ["imgedit"] else None)
            shown = [[row[0], *("" if v is None else f"{v:.2f}" for v in row[1:])]
                     for row in body]
            click.echo(f"\n{metric} by category:" if fmt in ("table", "markdown") else "")
            click.echo(render_grid(headers, shown, fmt,
                                   footer=note if fmt not in ("csv", "json") else None), nl=False)
