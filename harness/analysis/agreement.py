"""Human agreement: annotators against each other and against the judge-derived decision.

The paper's human study (section 8.2): each item is one sample and two models' outputs, every
annotator picks the better one, and agreement is Fleiss' kappa among annotators (0.607) and
between the annotators' aggregate and the metric's decision (0.574).

Annotations are a CSV (header row) or JSONL file with the fields :data:`FIELDS`; ``choice`` is
``A``, ``B`` or ``tie`` (any case). Every annotator rates every item (Fleiss' kappa needs the
same raters on every item), and an item is one sample and one ordered pair of models.

Decisions: the annotators' *majority* is the choice with the most votes, or ``tie`` when no
choice has more votes than every other; the *metric* prefers the model whose sample has the
higher judge Overall (``tie`` when equal). Items whose sample is not judged in both runs are
left out of the statistics against the metric, and counted. The kappa statistics are
statsmodels'; 95% confidence intervals are a seeded percentile bootstrap over items.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mebench.errors import MebenchError, did_you_mean

FIELDS = ("item_id", "sample_id", "model_a", "model_b", "annotator", "choice")
CHOICES = ("A", "B", "tie")
_CODE = {c.lower(): i for i, c in enumerate(CHOICES)}
RESAMPLES = 1000


@dataclass(frozen=True)
class Annotation:
    item_id: str
    sample_id: str
    model_a: str
    model_b: str
    annotator: str
    choice: str  # one of CHOICES
    where: str  # FILE:LINE


# 1. Reading and checking ------------------------------------------------------------------------


def read_annotations(path: Path) -> list[Annotation]:
    """Every row of a CSV or JSONL annotation file, checked; errors name file, line and field."""
    if not path.is_file():
        raise MebenchError("annotation file not found", where=str(path))
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)
    annotations = [_annotation(row, f"{path}:{line}") for line, row in rows]
    if not annotations:
        raise MebenchError("the annotation file has no rows", where=str(path))
    return annotations


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:  # spreadsheets may add a BOM
        reader = csv.DictReader(fh)
        missing = [f for f in FIELDS if f not in (reader.fieldnames or [])]
        if missing:
            raise MebenchError(f"the header lacks column {missing[0]!r}", where=f"{path}:1",
                               hint="columns: " + ", ".join(FIELDS))
        return [(reader.line_num, row) for row in reader]


def _jsonl_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MebenchError(f"invalid JSON: {exc.msg}", where=f"{path}:{line_no}",
                               hint="a .csv file is read as CSV, anything else as JSON lines"
                               ) from exc
        if not isinstance(row, dict):
            raise MebenchError("each line must be a JSON object", where=f"{path}:{line_no}")
        rows.append((line_no, row))
    return rows


def _annotation(row: Mapping[str, Any], where: str) -> Annotation:
    values: dict[str, str] = {}
    for name in FIELDS:
        value = row.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name != "choice":
            value = str(value)
        allowed = f" (allowed: {'|'.join(CHOICES)})" if name == "choice" else ""
        if value is not None and not isinstance(value, str):
            raise MebenchError(f"field {name!r} is {type(value).__name__}, not text{allowed}",
                               where=f"{where}: {name}")
        if value is None or not value.strip():
            raise MebenchError(f"field {name!r} is missing or empty{allowed}",
                               where=f"{where}: {name}")
        values[name] = value.strip()
    code = _CODE.get(values["choice"].lower())
    if code is None:
        raise MebenchError(f"choice {values['choice']!r} is not one of {'|'.join(CHOICES)}",
                           where=f"{where}: choice")
    if values["model_a"] == values["model_b"]:
        raise MebenchError(f"model_a and model_b are both {values['model_a']!r}",
                           where=f"{where}: model_b")
    return Annotation(**{**values, "choice": CHOICES[code]}, where=where)


@dataclass(frozen=True)
class Items:
    """The annotations as a matrix: items (rows) x annotators (columns), choice codes 0/1/2."""

    ids: list[str]
    keys: list[tuple[str, str, str]]  # (sample_id, model_a, model_b) per item
    annotators: list[str]
    labels: np.ndarray


def build_items(annotations: Sequence[Annotation]) -> Items:
    """Group the rows by item; every item must have the same sample and models on every row and
    one choice from every annotator."""
    keys: dict[str, tuple[str, str, str]] = {}
    first: dict[str, str] = {}
    votes: dict[tuple[str, str], str] = {}
    annotators: list[str] = []
    for a in annotations:
        key = (a.sample_id, a.model_a, a.model_b)
        if a.item_id in keys and keys[a.item_id] != key:
            raise MebenchError(
                f"item {a.item_id!r} is (sample, model_a, model_b) = {keys[a.item_id]} on "
                f"{first[a.item_id]}, but {key} here", where=a.where)
        keys.setdefault(a.item_id, key)
        first.setdefault(a.item_id, a.where)
        if (a.item_id, a.annotator) in votes:
            raise MebenchError(f"annotator {a.annotator!r} rated item {a.item_id!r} twice",
                               where=a.where)
        votes[(a.item_id, a.annotator)] = a.choice
        if a.annotator not in annotators:
            annotators.append(a.annotator)
    ids = list(keys)
    for item in ids:
        for who in annotators:
            if (item, who) not in votes:
                raise MebenchError(
                    f"annotator {who!r} has no choice for item {item!r}", where=first[item],
                    hint="every annotator rates every item (Fleiss' kappa needs the same "
                    "raters on each item)")
    labels = np.array([[_CODE[votes[(i, w)].lower()] for w in annotators] for i in ids],
                      dtype=np.int64)
    return Items(ids, [keys[i] for i in ids], annotators, labels)


# 2. Decisions and statistics -------------------------------------------------------------------


def majority(labels: np.ndarray) -> np.ndarray:
    """Per item, the choice with the most votes; ``tie`` (2) where no choice leads alone."""
    counts = np.stack([(labels == c).sum(axis=1) for c in range(len(CHOICES))], axis=1)
    top = counts.max(axis=1)
    leaders = (counts == top[:, None]).sum(axis=1)
    return np.where(leaders == 1, counts.argmax(axis=1), _CODE["tie"])


def metric_decisions(items: Items, overall: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    """Per item, the judge-derived choice (0 A, 1 B, 2 tie), or -1 where either model's sample
    has no Overall. ``overall`` maps run name -> sample id -> Overall."""
    out = np.full(len(items.ids), -1, dtype=np.int64)
    for index, (sample, model_a, model_b) in enumerate(items.keys):
        a, b = overall[model_a].get(sample), overall[model_b].get(sample)
        if a is not None and b is not None:
            out[index] = 0 if a > b else 1 if b > a else 2
    return out


def fleiss(labels: np.ndarray, n_cat: int = len(CHOICES)) -> float:
    """Fleiss' kappa of an items x raters matrix of category codes ``0..n_cat-1`` (statsmodels)."""
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    if labels.shape[0] == 0:
        return float("nan")
    table, _ = aggregate_raters(labels, n_cat=n_cat)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(fleiss_kappa(table, method="fleiss"))


def cohen(x: np.ndarray, y: np.ndarray) -> float:
    """Cohen's kappa of two raters' choice codes (statsmodels)."""
    from statsmodels.stats.inter_rater import cohens_kappa, to_table

    if x.size == 0:
        return float("nan")
    table, _ = to_table(np.column_stack([x, y]), bins=len(CHOICES))
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(cohens_kappa(table, return_results=False))


def pairwise_agreement(labels: np.ndarray) -> float:
    """Mean over items of the share of annotator pairs that agree."""
    k = labels.shape[1]
    counts = np.stack([(labels == c).sum(axis=1) for c in range(len(CHOICES))], axis=1)
    return float(((counts * (counts - 1)).sum(axis=1) / (k * (k - 1))).mean())


@dataclass(frozen=True)
class Statistic:
    name: str
    value: float | None
    ci95: tuple[float, float] | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": _round(self.value),
                "ci95": None if self.ci95 is None else [_round(v) for v in self.ci95],
                "n": self.n}


def agreement_report(items: Items, overall: Mapping[str, Mapping[str, float]] | None = None,
                     *, seed: int = 0, resamples: int = RESAMPLES) -> dict[str, Any]:
    """Every statistic with its bootstrap CI, as a JSON-able dict (see :func:`report_rows`)."""
    # 1. What each statistic computes from a subset of items (row indices)
    labels = items.labels
    if labels.shape[1] < 2:
        raise MebenchError(f"only one annotator ({items.annotators[0]!r}): agreement needs two "
                           "or more")
    stats: dict[str, Callable[[np.ndarray], float]] = {
        f"Fleiss' kappa, {len(items.annotators)} annotators": lambda i: fleiss(labels[i]),
        "Raw agreement, annotator pairs": lambda i: pairwise_agreement(labels[i]),
    }
    among_annotators = set(stats)
    decided = np.zeros(len(items.ids), dtype=bool)
    if overall is not None:
        unknown = sorted({m for k in items.keys for m in k[1:]} - set(overall))
        if unknown:
            raise MebenchError(f"model {unknown[0]!r} of the annotations is none of the runs",
                               where="--runs", hint=did_you_mean(unknown[0], sorted(overall)))
        metric = metric_decisions(items, overall)
        decided = metric >= 0
        votes = majority(labels)

        def on_decided(fn: Callable[[np.ndarray, np.ndarray], float]
                       ) -> Callable[[np.ndarray], float]:
            return lambda i: fn(votes[i][decided[i]], metric[i][decided[i]])

        stats["Fleiss' kappa, majority vs metric"] = on_decided(
            lambda h, m: fleiss(np.column_stack([h, m])))
        stats["Cohen's kappa, majority vs metric"] = on_decided(cohen)
        stats["Raw agreement, majority vs metric"] = on_decided(
            lambda h, m: float(np.mean(h == m)) if h.size else float("nan"))
        for col, who in enumerate(items.annotators):
            def one(fn: Callable[[np.ndarray, np.ndarray], float], col: int = col
                    ) -> Callable[[np.ndarray], float]:
                return lambda i: fn(labels[i, col][decided[i]], metric[i][decided[i]])

            stats[f"Cohen's kappa, {who} vs metric"] = one(cohen)
            stats[f"Raw agreement, {who} vs metric"] = one(
                lambda h, m: float(np.mean(h == m)) if h.size else float("nan"))

    # 2. Point estimates on all items, then the bootstrap over items
    every = np.arange(len(items.ids))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(every), size=(resamples, len(every)))
    results = []
    for name, fn in stats.items():
        boot = np.array([fn(idx) for idx in draws], dtype=np.float64)
        boot = boot[np.isfinite(boot)]
        ci = None if boot.size < 2 else tuple(float(v) for v in np.percentile(boot, [2.5, 97.5]))
        n = len(every) if name in among_annotators else int(decided.sum())
        value = fn(every) if n else float("nan")
        results.append(Statistic(name, value if np.isfinite(value) else None, ci, n))
    return {
        "items": len(items.ids),
        "annotators": items.annotators,
        "items_with_metric": int(decided.sum()) if overall is not None else None,
        "seed": seed,
        "resamples": resamples,
        "statistics": [s.to_dict() for s in results],
    }


def report_rows(report: Mapping[str, Any]) -> tuple[list[str], list[list[Any]], str]:
    """The report as a table: headers, rows and a footer."""
    headers = ["Statistic", "Value", "95% CI", "n"]
    body = []
    for s in report["statistics"]:
        value = "" if s["value"] is None else f"{s['value']:.3f}"
        ci = "" if s["ci95"] is None else f"[{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"
        body.append([s["name"], value, ci, s["n"]])
    footer = (f"{report['items']} items, annotators {', '.join(report['annotators'])}; CI: "
              f"bootstrap over items, {report['resamples']} resamples, seed {report['seed']}. "
              "Majority: the choice with the most votes, else tie.")
    if report["items_with_metric"] is not None:
        left = report["items"] - report["items_with_metric"]
        footer += ("\nMetric: the model with the higher judge Overall wins, equal is a tie; "
                   f"{left} item(s) without both Overall scores left out of the metric rows.")
    return headers, body, footer


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)
