"""Annotation sheets for the paper's human study: random samples, two random models each.

Design (paper, section 8.2.1): ``n`` samples drawn at random from those every listed run has
scored (status ``ok`` with its output image on disk), for each two distinct runs drawn at random
in random order (shown as A and B), and one row per item and annotator with an empty ``choice``
column to fill with ``A``, ``B`` or ``tie``. The sheet reads back with ``mebench agreement``.
The draw depends only on the seed, the runs' names and their scored samples.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mebench.analysis.agreement import FIELDS
from mebench.analysis.runs import Run, runs_by_name
from mebench.errors import MebenchError

SHEET_COLUMNS = (*FIELDS[:5], "category", "instruction", "image_a", "image_b", FIELDS[5])


def scored_ids(run: Run) -> set[str]:
    """Samples of the run with status ``ok`` and an output image."""
    return {sid for sid, rec in run.records().items()
            if rec.get("status") == "ok" and (run.path / "outputs" / f"{sid}.png").is_file()}


def draw_pairs(runs: Sequence[Run], *, n: int, seed: int,
               annotators: int = 3) -> list[dict[str, str]]:
    """The sheet's rows (``SHEET_COLUMNS``); image paths are absolute here."""
    # 1. Check inputs
    if len(runs) < 2:
        raise MebenchError("a pairwise study needs at least two runs", where="--runs")
    if n < 1 or annotators < 1:
        raise MebenchError("--n and --annotators must be positive", where="--n/--annotators")
    tasks = sorted({run.task for run in runs})
    if len(tasks) > 1:
        raise MebenchError(f"the runs are of different tasks: {', '.join(tasks)}",
                           where="--runs", hint="compare runs of one task")
    named = runs_by_name(runs)
    ordered = [named[name] for name in sorted(named)]
    common = sorted(set.intersection(*(scored_ids(run) for run in ordered)))
    if len(common) < n:
        raise MebenchError(f"only {len(common)} samples are scored by every run, {n} asked for",
                           where="--n", hint=f"pass --n {len(common)} or fewer")

    # 2. Draw the samples, then two distinct runs per sample in random order
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(common), size=n, replace=False)
    rows: list[dict[str, str]] = []
    width = len(str(n))
    for number, index in enumerate(chosen, start=1):
        sid = common[int(index)]
        a, b = (ordered[int(i)] for i in rng.choice(len(ordered), size=2, replace=False))
        record: dict[str, Any] = a.records()[sid]
        for k in range(1, annotators + 1):
            rows.append({
                "item_id": f"item-{number:0{width}d}", "sample_id": sid,
                "model_a": a.name, "model_b": b.name, "annotator": f"annotator-{k}",
                "category": str(record.get("category") or ""),
                "instruction": str(record.get("instruction") or ""),
                "image_a": str(a.path / "outputs" / f"{sid}.png"),
                "image_b": str(b.path / "outputs" / f"{sid}.png"),
                "choice": "",
            })
    return rows


def sheet_csv(rows: Sequence[dict[str, str]], out: Path) -> str:
    """The sheet as CSV text, with image paths relative to the sheet's folder."""
    base = out.resolve().parent
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(SHEET_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row,
                         "image_a": os.path.relpath(Path(row["image_a"]).resolve(), base),
                         "image_b": os.path.relpath(Path(row["image_b"]).resolve(), base)})
    return buf.getvalue()
