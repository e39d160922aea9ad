"""Image grids of finished runs: source | target | each run's output, one row per sample.

Like the paper's Figure 3, each row shows a sample's source image, its target and every run's
edit of it; under the source is the instruction, under each edit that run's metrics for the
sample (or its error). A PNG (drawn with PIL's default font) is for a paper or a chat; an HTML
page, with the runs' own output files linked relatively, is for browsing a whole run.

Run directories hold the edits but not the dataset's images: those are loaded again through the
task's loaders, from what ``run.json`` records (task, dataset source, path, split and options, and
the run's ``--limit``). For the HTML page the source and target images are written as PNGs into
``<page name>_files/`` next to it.
"""

from __future__ import annotations

import html
import json
import os
import types
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mebench.errors import MebenchError, did_you_mean
from mebench.rundir import (PARTIAL_JSONL, RUN_JSON, SAMPLES_JSONL, read_json_object,
                            read_records)

if TYPE_CHECKING:
    from PIL import Image, ImageFont

    from mebench.taskfile import TaskIndex
    from mebench.types import Sample

MAX_PNG_ROWS = 100
PAD = 8
HEADER = 22
LINE = 15
CAPTION_LINES = 4
FONT_SIZE = 12


@dataclass(frozen=True)
class GridRun:
    """One run directory: its name (the folder), run.json and per-sample records by id."""

    path: Path
    name: str
    run: dict[str, Any]
    records: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Grid:
    runs: list[GridRun]
    samples: list[Sample]

    @property
    def columns(self) -> list[str]:
        return ["source", "target", *(r.name for r in self.runs)]


# -- loading ------------------------------------------------------------------------------------


def _records(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Per-sample records: samples.jsonl of a finished run, else what scoring has written."""
    path = run_dir / SAMPLES_JSONL
    return read_records(path if path.is_file() else run_dir / PARTIAL_JSONL)


def find_runs(paths: Sequence[Path]) -> list[GridRun]:
    """Run directories (holding run.json), or folders of them, in the order given."""
    found: list[Path] = []
    for p in paths:
        if (p / RUN_JSON).is_file():
            found.append(p)
            continue
        inside = sorted(d for d in p.iterdir() if (d / RUN_JSON).is_file()) if p.is_dir() else []
        if not inside:
            raise MebenchError("not a run directory (no run.json), nor a folder of them",
                               where=str(p), hint="give the folder `mebench run` wrote")
        found.extend(inside)
    runs = [GridRun(p, p.name, read_json_object(p / RUN_JSON), _records(p)) for p in found]
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise MebenchError(f"two runs have the same folder name: {', '.join(names)}",
                           where="RUN_DIR", hint="give runs of different models")
    return runs


def _dataset_of(run: GridRun) -> tuple[Any, ...]:
    d = run.run.get("dataset") or {}
    return (run.run.get("task", {}).get("task"), d.get("source"), d.get("path"), d.get("split"),
            json.dumps(d.get("options") or {}, sort_keys=True))


def load_samples_of(runs: Sequence[GridRun], index: TaskIndex) -> list[Sample]:
    """The samples the runs were made on, loaded through the task's own loaders."""
    from mebench.data import load_samples

    keys = {_dataset_of(r) for r in runs}
    if len(keys) > 1:
        listing = "; ".join(f"{r.name}: task {k[0]!r}, dataset {k[2]!r}"
                            for r, k in ((r, _dataset_of(r)) for r in runs))
        raise MebenchError(f"the runs are of different tasks or datasets ({listing})",
                           where="RUN_DIR", hint="make one grid per task")
    first = runs[0].run
    task_file = first.get("task_file")
    name = first.get("task", {}).get("task")
    if not name:
        raise MebenchError("run.json names no task", where=str(runs[0].path / RUN_JSON))
    task = index.load(task_file if task_file and Path(task_file).is_file() else name)
    recorded = first.get("dataset") or {}
    dataset = replace(task.dataset, source=recorded.get("source", task.dataset.source),
                      path=recorded.get("path", task.dataset.path),
                      split=recorded.get("split", task.dataset.split),
                      options=types.MappingProxyType(dict(recorded.get("options") or {})))
    limits = [r.run.get("limit") for r in runs]
    limit = None if None in limits else max(limits)  # type: ignore[type-var]
    return load_samples(dataset, limit)


def select(samples: list[Sample], ids: Sequence[str] | None, limit: int | None) -> list[Sample]:
    """The named samples in the order named, or the first ``limit`` of them."""
    if ids:
        by_id = {s.id: s for s in samples}
        for sid in ids:
            if sid not in by_id:
                raise MebenchError(f"unknown sample id {sid!r}", where="--samples",
                                   hint=did_you_mean(sid, list(by_id)[:2000]))
        return [by_id[sid] for sid in ids]
    if limit is not None:
        if limit <= 0:
            raise MebenchError(f"--limit must be positive, got {limit}", where="--limit")
        return samples[:limit]
    return samples


def build_grid(run_paths: Sequence[Path], index: TaskIndex, *, ids: Sequence[str] | None = None,
               limit: int | None = None) -> Grid:
    runs = find_runs(run_paths)
    return Grid(runs, select(load_samples_of(runs, index), ids, limit))


# -- captions -----------------------------------------------------------------------------------


SHORT_NAMES = {"mas": "MAS", "motion_reward": "reward", "motion_reward_cont": "reward~",
               "flow_epe": "EPE"}


def metric_chunks(record: dict[str, Any] | None) -> list[str]:
    """``["MAS 87.31", "reward 0.80", ...]`` for a scored sample, or why there is none."""
    if record is None:
        return ["not scored"]
    if record.get("status") != "ok":
        return [f"failed ({record.get('stage', '?')}): {record.get('error', '')}"]
    values = record.get("metrics") or {}
    return [f"{SHORT_NAMES.get(k, k)} {v:.2f}" if isinstance(v, (int, float))
            else f"{SHORT_NAMES.get(k, k)} {v}" for k, v in sorted(values.items())]


@dataclass(frozen=True)
class Caption:
    """Text under an image, as chunks that wrapping never splits (words, or one metric each)."""

    chunks: list[str]
    sep: str = " "

    @property
    def text(self) -> str:
        return self.sep.join(self.chunks)


def _captions(grid: Grid, sample: Sample) -> list[Caption]:
    head = [Caption(f"{sample.id}: {sample.instruction}".split()),
            Caption([sample.category or "target"])]
    return head + [Caption(metric_chunks(r.records.get(sample.id)), "   ") for r in grid.runs]


def _output_path(run: GridRun, sample_id: str) -> Path | None:
    path = run.path / "outputs" / f"{sample_id}.png"
    return path if path.is_file() else None


# -- PNG ----------------------------------------------------------------------------------------


def png_size(rows: int, columns: int, cell: int) -> tuple[int, int]:
    """(width, height) of a PNG grid."""
    row_h = cell + CAPTION_LINES * LINE + PAD
    return PAD + columns * (cell + PAD), HEADER + rows * row_h + PAD


def _wrap(caption: Caption, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int,
          lines: int) -> list[str]:
    """Greedy wrap to ``width`` pixels, at most ``lines`` lines (the last one ellipsised)."""
    out: list[str] = []
    current = ""
    for chunk in caption.chunks:
        trial = f"{current}{caption.sep}{chunk}" if current else chunk
        if font.getlength(trial) <= width or not current:
            current = trial
        else:
            out.append(current)
            current = chunk
    if current:
        out.append(current)
    if len(out) > lines or (out and font.getlength(out[-1]) > width):
        out = out[:lines]
        last = out[-1]
        while last and font.getlength(last + "...") > width:
            last = last[:-1]
        out[-1] = last + "..."
    return out


def _fit(image: Image.Image, cell: int) -> Image.Image:
    from PIL import ImageOps

    return ImageOps.contain(image.convert("RGB"), (cell, cell))


def render_png(grid: Grid, out: Path, *, cell: int = 256) -> tuple[int, int]:
    """Draw the grid to ``out``; returns its size."""
    from PIL import Image, ImageDraw, ImageFont

    from mebench.images import save_png_atomic

    if len(grid.samples) > MAX_PNG_ROWS:
        raise MebenchError(f"{len(grid.samples)} rows is too many for one PNG (at most "
                           f"{MAX_PNG_ROWS})", where="--out",
                           hint="pick rows with --samples or --limit, or write .html")
    font = ImageFont.load_default(size=FONT_SIZE)
    columns = grid.columns
    size = png_size(len(grid.samples), len(columns), cell)
    canvas = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(canvas)
    for c, title in enumerate(columns):
        x = PAD + c * (cell + PAD)
        draw.text((x, 4), _wrap(Caption([title]), font, cell, 1)[0], fill="black", font=font)
    row_h = cell + CAPTION_LINES * LINE + PAD
    for r, sample in enumerate(grid.samples):
        y = HEADER + r * row_h
        images: list[Image.Image | None] = [sample.source.load(),
                                            sample.target.load() if sample.target else None]
        for run in grid.runs:
            found = _output_path(run, sample.id)
            if found is None:
                images.append(None)
                continue
            with Image.open(found) as im:
                images.append(im.convert("RGB"))
        for c, (image, caption) in enumerate(zip(images, _captions(grid, sample))):
            x = PAD + c * (cell + PAD)
            if image is None:
                draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(225, 225, 225))
                draw.text((x + 6, y + cell // 2 - LINE), "no image", fill="gray", font=font)
            else:
                thumb = _fit(image, cell)
                canvas.paste(thumb, (x + (cell - thumb.width) // 2, y + (cell - thumb.height) // 2))
            for i, line in enumerate(_wrap(caption, font, cell, CAPTION_LINES)):
                draw.text((x, y + cell + 2 + i * LINE), line, fill="black", font=font)
    save_png_atomic(canvas, out)
    return size


# -- HTML ---------------------------------------------------------------------------------------

_STYLE = ("body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
          "td,th{vertical-align:top;padding:4px;border-bottom:1px solid #ddd}"
          "td div{font-size:12px;max-width:{cell}px;white-space:pre-wrap}"
          "img{max-width:{cell}px;max-height:{cell}px}.none{width:{cell}px;height:60px;"
          "background:#eee;color:#777}")


def _href(path: Path, page_dir: Path) -> str:
    rel = Path(os.path.relpath(path.resolve(), page_dir.resolve())).as_posix()
    return urllib.parse.quote(rel)


def render_html(grid: Grid, out: Path, *, cell: int = 256) -> int:
    """Write the page and the source/target PNGs beside it; returns the number of rows."""
    from mebench.images import atomic_write_text, save_png_atomic

    page_dir = out.parent
    files = page_dir / f"{out.stem}_files"
    style = _STYLE.replace("{cell}", str(cell))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in grid.columns)
    body: list[str] = []
    for sample in grid.samples:
        paths: list[Path | None] = []
        for kind, ref in (("source", sample.source), ("target", sample.target)):
            if ref is None:
                paths.append(None)
                continue
            path = files / kind / f"{sample.id}.png"
            save_png_atomic(ref.load(), path)
            paths.append(path)
        paths += [_output_path(run, sample.id) for run in grid.runs]
        cells = []
        for path, caption in zip(paths, _captions(grid, sample)):
            picture = ('<div class="none">no image</div>' if path is None else
                       f'<img src="{_href(path, page_dir)}" loading="lazy" alt="">')
            cells.append(f"<td>{picture}<div>{html.escape(caption.text)}</div></td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    task = grid.runs[0].run.get("task", {}).get("task", "")
    title = html.escape(f"mebench grid: {task}")
    text = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{style}</style></head><body><h1>{title}</h1>\n<table>\n<tr>{head}</tr>\n"
            + "\n".join(body) + "\n</table></body></html>\n")
    atomic_write_text(out, text)
    return len(body)
