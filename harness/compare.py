"""``mebench compare``: the paper's Table 1 layout over finished runs, in several formats."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from mebench.data.imgedit import CATEGORIES as IMGEDIT_CATEGORIES
from mebench.data.imgedit import PAPER_CATEGORIES as IMGEDIT_PAPER_CATEGORIES
from mebench.errors import MebenchError, did_you_mean

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
class CategoryLayout:
    """A task's per-category table: column order, the categories its overall averages, and the
    published tables (reference name -> CSV in results/reference with the category columns and
    ``overall``)."""

    title: str
    categories: tuple[str, ...]
    averaged: tuple[str, ...]
    references: dict[str, str]


CATEGORY_LAYOUTS: dict[str, CategoryLayout] = {
    "imgedit": CategoryLayout("the paper's Table 2 (ImgEdit-Bench)", IMGEDIT_CATEGORIES,
                              IMGEDIT_PAPER_CATEGORIES, {"paper": "paper_table2.csv"}),
}


@dataclass(frozen=True)
class Row:
    name: str
    task: str | None
    values: dict[str, float | None]
    n: int | None = None
    n_failed: int | None = None
    source: str = "measured"


def measured_rows(runs: list[dict[str, Any]],
                  win_rates: Sequence[float | None] | None = None) -> list[Row]:
    """One row per run; ``win_rates`` (one per run, in order; see mebench.analysis.winrate)
    fills the Win Rate column where a run was compared with others of its task."""
    rows = []
    for index, r in enumerate(runs):
        values = {k: r["metrics"][k]["mean"] for k, _, _ in COLUMNS if k in r["metrics"]}
        if win_rates is not None and win_rates[index] is not None:
            values["win_rate"] = win_rates[index]
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


def category_table(runs: list[dict[str, Any]], metric: str,
                   reference: str | None = None) -> tuple[list[str], list[list[Any]], str]:
    """Per-category means of ``metric`` with one row per run and a last overall column.

    A task with a known layout (ImgEdit: the paper's Table 2) has its categories in the
    layout's order and ``Ovl.`` = the mean of the category means over the layout's averaged
    categories; other tasks list their categories sorted and ``All`` = the run's mean over all
    samples. ``reference`` adds the published rows of that task's layout, if any.
    Returns headers, rows of values (``None`` where missing) and a footer line.
    """
    tasks = {r["task"] for r in runs}
    layout = CATEGORY_LAYOUTS.get(next(iter(tasks))) if len(tasks) == 1 else None
    present = {c for r in runs for c in r.get("by_category", {})}
    if layout is not None:
        cats = [c for c in layout.categories if c in present or c in layout.averaged]
        cats += sorted(present - set(cats))
    else:
        cats = sorted(present)
    body: list[list[Any]] = []
    for r in runs:
        per = r.get("by_category", {})
        means = [per.get(c, {}).get("metrics", {}).get(metric, {}).get("mean") for c in cats]
        if layout is not None:
            averaged = [m for c, m in zip(cats, means) if c in layout.averaged]
            overall = (sum(averaged) / len(averaged)
                       if averaged and all(m is not None for m in averaged) else None)
        else:
            overall = r["metrics"].get(metric, {}).get("mean")
        body.append([r.get("run_name", r["model"]), *means, overall])
    if layout is None:
        return ["Model", *cats, "All"], body, f"{metric}: mean per category and over all samples"
    if reference:
        body += _layout_reference(layout, reference, cats)
    left_out = [c for c in cats if c not in layout.averaged]
    footer = (f"{metric}: mean per category; Ovl. = mean of the {len(layout.averaged)} "
              f"category means ({', '.join(layout.averaged)})"
              + (f"; {', '.join(left_out)} shown but not averaged ({layout.title} leaves "
                 "it out)" if left_out else ""))
    if reference:
        footer += f"\n({reference}) rows: published numbers, {layout.title}"
    return ["Model", *cats, "Ovl."], body, footer


def _layout_reference(layout: CategoryLayout, name: str, cats: list[str]) -> list[list[Any]]:
    if name not in layout.references:
        raise MebenchError(f"no reference {name!r} for {layout.title}", where="--reference",
                           hint=did_you_mean(name, list(layout.references)))
    text = resources.files("mebench.reference").joinpath(layout.references[name]).read_text(
        "utf-8")
    rows = []
    for rec in csv.DictReader(io.StringIO(text)):
        rows.append([f"{rec['model']} ({name})",
                     *(float(rec[c]) if rec.get(c) else None for c in cats),
                     float(rec["overall"])])
    return rows


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
