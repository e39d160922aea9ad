"""``mebench grid``: source | target | each run's output, as a PNG or an HTML page."""

from __future__ import annotations

from pathlib import Path

import click

from mebench.cli.options import include_path_option, split_names, task_index


def register(cli: click.Group) -> None:
    @cli.command("grid")
    @click.argument("runs", nargs=-1, required=True,
                    type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="FILE.png (a picture) or FILE.html (a page linking the images).")
    @click.option("--samples", "sample_ids", default=None, metavar="ID,ID",
                  help="These samples, in this order.")
    @click.option("--limit", type=int, default=None, help="The first N samples.")
    @click.option("--cell", type=click.IntRange(32, 2048), default=256, show_default=True,
                  help="Size of each image in pixels.")
    @include_path_option
    @click.pass_obj
    def grid(pm: object, runs: tuple[Path, ...], out: Path, sample_ids: str | None,
             limit: int | None, cell: int, include_paths: tuple[str, ...]) -> None:
        """Show runs side by side: one row per sample, the instruction and metrics under it."""
        from mebench.grid import build_grid, render_html, render_png

        suffix = out.suffix.lower()
        if suffix not in (".png", ".html", ".htm"):
            raise click.UsageError(f"--out must end in .png or .html, not {out.name!r}")
        if sample_ids is not None and limit is not None:
            raise click.UsageError("give --samples or --limit, not both")
        ids = split_names(sample_ids) if sample_ids is not None else None
        grid_ = build_grid(list(runs), task_index(pm, include_paths), ids=ids, limit=limit)
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".png":
            width, height = render_png(grid_, out, cell=cell)
            click.echo(f"{len(grid_.samples)} rows x {len(grid_.columns)} columns "
                       f"({width}x{height}) -> {out}")
        else:
            rows = render_html(grid_, out, cell=cell)
            click.echo(f"{rows} rows x {len(grid_.columns)} columns -> {out}")
