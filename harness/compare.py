"""``mebench compare``: the paper's Table 1 layout over finished runs, in several formats."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mebench.errors import MebenchError, did_you_mean
from mebench.rundir import read_results

# (key in results.json metrics, column title, decimals); the paper's column order first.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("overall", "Overall", 2),
    ("fidelity", "Fidelity", 2),
    ("preservation", "Preservation", 2),
    ("coherence", "Coherence", 2),
    ("mas", "MAS", 2),
    ("win_rate", "Win Rate", 2),
    ("motion_reward", "Reward", 3),
    ("flow_epe", "EPE (px)", 2),
)
FORMATS = ("table", "markdown", "latex", "csv", "json")
_TABULATE_FORMAT = {"table": "simple_outline", "markdown": "github", "latex": "latex_booktabs"}
REFERENCES = {"paper": "paper_table1.csv"}


@dataclass(frozen=True)
class Row:
    name: str
    task: str | None
    values: dict[str, float | None]
    n: int | None = None
    n_failed: int | None = None
    source: str = "measured"


def load_runs(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """results.json of each run directory; a folder of run directories is expanded."""
    runs = []
    for path in paths:
        if (path / "results.json").is_file() or not path.is_dir():
            runs.append(read_results(path))
            continue
        children = sorted(p for p in path.iterdir() if (p / "results.json").is_file())
        if not children:
            raise MebenchError("no finished runs here", where=str(path),
                               hint="pass run directories (each holding results.json)")
        runs.extend(read_results(p) for p in children)
    return runs


def measured_rows(runs: list[dict[str, Any]]) -> list[Row]:
    rows = []
    for r in runs:
        values = {k: r["metrics"][k]["mean"] for k, _, _ in COLUMNS if k in r["metrics"]}
        rows.append(Row(r.get("run_name", r["model"]), r["task"], values, r["n"], r["n_failed"]))
    return rows


def reference_rows(name: str) -> list[Row]:
    if name not in REFERENCES:
        raise MebenchError(f"unknown reference {name!r}", where="--reference",
                           hint=did_you_mean(name, list(REFERENCES)))
    text = resources.files("mebench.reference").joinpath(REFERENCES[name]).read_text("utf-8")
    rows = []
    for rec in csv.DictReader(io.StringIO(text)):
        values = {k: float(v) for k, v in rec.items() if k != "model" and v not in ("", None)}
        rows.append(Row(f"{rec['model']} ({name})", "motionedit", values, source=name))
    return rows


def category_rows(runs: list[dict[str, Any]], metric: str) -> tuple[list[str], list[list[Any]]]:
    cats = sorted({c for r in runs for c in r.get("by_category", {})})
    body = []
    for r in runs:
        per = r.get("by_category", {})
        body.append([r.get("run_name", r["model"])] + [
            per.get(c, {}).get("metrics", {}).get(metric, {}).get("mean") for c in cats])
    return ["Model", *cats], body


def render(rows: list[Row], fmt: str, *, footer: str | None = None) -> str:
    """The comparison table: the columns any row has, in the paper's order, plus n and failed."""
    if fmt not in FORMATS:
        raise MebenchError(f"unknown format {fmt!r}", where="--format",
                           hint=did_you_mean(fmt, list(FORMATS)))
    cols = [c for c in COLUMNS if any(r.values.get(c[0]) is not None for r in rows)]
    if fmt == "json":
        return json.dumps([{"model": r.name, "task": r.task, "source": r.source, "n": r.n,
                            "n_failed": r.n_failed, **r.values} for r in rows], indent=2) + "\n"
    headers = ["Model", *[title for _, title, _ in cols], "n", "failed"]
    body = [[r.name, *[_fmt(r.values.get(k), d) for k, _, d in cols],
             "" if r.n is None else r.n, "" if r.n_failed is None else r.n_failed] for r in rows]
    return render_grid(headers, body, fmt, footer=footer)


def render_grid(headers: list[str], body: list[list[Any]], fmt: str,
                footer: str | None = None) -> str:
    from tabulate import tabulate

    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(body)
        return buf.getvalue()
    if fmt == "json":
        return json.dumps([dict(zip(headers, row)) for row in body], indent=2) + "\n"
    text = tabulate(body, headers=headers, tablefmt=_TABULATE_FORMAT[fmt], floatfmt=".2f",
                    disable_numparse=True)
    if footer:
        prefix = "% " if fmt == "latex" else ""
        text += "".join(f"\n{prefix}{line}" for line in footer.splitlines())
    return text + "\n"


def _fmt(value: float | None, decimals: int) -> str:
    return "" if value is None else f"{value:.{decimals}f}"
