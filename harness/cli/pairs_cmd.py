"""``mebench pairs``: an annotation sheet for a pairwise human study over finished runs."""

from __future__ import annotations

from pathlib import Path

import click

from mebench.errors import MebenchError


def register(cli: click.Group) -> None:
    @cli.command("pairs")
    @click.option("--runs", "runs", multiple=True, required=True, metavar="RUN",
                  type=click.Path(exists=True, file_okay=False, path_type=Path),
                  help="Run directories of one task (or folders of them); repeat the option.")
    @click.option("--n", "n", type=int, default=100, show_default=True,
                  help="Items: samples drawn from those every run has scored.")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--annotators", type=int, default=3, show_default=True,
                  help="Rows per item, one for each annotator.")
    @click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="The CSV sheet to write.")
    @click.option("--force", is_flag=True, help="Overwrite an existing sheet.")
    def pairs(runs: tuple[Path, ...], n: int, seed: int, annotators: int, out: Path,
              force: bool) -> None:
        """Draw the paper's human-study design as a CSV sheet with an empty choice column.

        Each item is a random sample that every run scored, shown with the outputs of two
        distinct random runs in random order (A, B); image paths are relative to the sheet.
        Fill `choice` with A, B or tie and read it back with `mebench agreement`.
        """
        from mebench.analysis.pairs import draw_pairs, sheet_csv
        from mebench.analysis.runs import load_run_dirs
        from mebench.images import atomic_write_text

        if out.exists() and not force:
            raise MebenchError("the sheet exists (it may hold annotations)", where=str(out),
                               hint="pass --force to overwrite it, or another --out")
        rows = draw_pairs(load_run_dirs(list(runs)), n=n, seed=seed, annotators=annotators)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, sheet_csv(rows, out))
        click.echo(f"{n} items x {annotators} annotators = {len(rows)} rows -> {out}")
