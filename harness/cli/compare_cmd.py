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
    @click.option("--by-category", is_flag=True, help="Per-category breakdown of one metric.")
    @click.option("--metric", default="mas", show_default=True,
                  help="The metric of the per-category breakdown.")
    def compare(runs: tuple[Path, ...], fmt: str, reference: str | None, by_category: bool,
                metric: str) -> None:
        """Compare finished runs (run directories, or folders of them)."""
        from mebench.compare import (category_rows, load_runs, measured_rows, reference_rows,
                                     render, render_grid)

        results = load_runs(list(runs))
        tasks = sorted({r["task"] for r in results})
        rows = measured_rows(results)
        if reference:
            rows += reference_rows(reference)
        notes = []
        if len(tasks) > 1:
            notes.append(f"note: these runs are of different tasks: {', '.join(tasks)}")
        if reference:
            notes.append(f"({reference}) rows: published numbers on MotionEdit-Bench (task "
                         "motionedit); judge columns are Gemini-rated 0-5")
        footer = "\n".join(notes) or None
        click.echo(render(rows, fmt, footer=footer), nl=False)
        if by_category:
            headers, body = category_rows(results, metric)
            shown = [[row[0], *("" if v is None else f"{v:.2f}" for v in row[1:])]
                     for row in body]
            click.echo(f"\n{metric} by category:" if fmt in ("table", "markdown") else "")
            click.echo(render_grid(headers, shown, fmt), nl=False)
