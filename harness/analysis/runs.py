"""Finished runs as the analyses read them: results.json plus the per-sample records.

The per-sample contract (``samples.jsonl``, written by the judge stage) that the analyses use:
``{"id", "category", "instruction", "status": "ok"|"failed", "metrics": {"overall": 0-5, ...}}``.
A sample counts as *judged* when its status is ``ok`` and ``metrics.overall`` is a number.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mebench.errors import MebenchError
from mebench.rundir import RESULTS_JSON, SAMPLES_JSONL, read_results


@dataclass
class Run:
    """One finished run directory (its samples.jsonl is read on first use)."""

    path: Path
    results: dict[str, Any]
    _records: dict[str, dict[str, Any]] | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        """The name tables and annotation sheets use: ``run_name`` (``model`` for old runs)."""
        return str(self.results.get("run_name") or self.results["model"])

    @property
    def task(self) -> str:
        return str(self.results["task"])

    def records(self) -> dict[str, dict[str, Any]]:
        """samples.jsonl by sample id (read once)."""
        if self._records is None:
            self._records = read_samples(self.path)
        return self._records

    def overall(self) -> dict[str, float]:
        """``{sample id: Overall}`` of every judged sample."""
        out: dict[str, float] = {}
        for sid, rec in self.records().items():
            value = judged_overall(rec)
            if value is not None:
                out[sid] = value
        return out


def judged_overall(record: dict[str, Any]) -> float | None:
    """The record's Overall score, or ``None`` when the sample failed or was not judged."""
    if record.get("status") != "ok":
        return None
    value = (record.get("metrics") or {}).get("overall")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def read_samples(run_dir: Path) -> dict[str, dict[str, Any]]:
    """samples.jsonl of a finished run by sample id; every problem names file and line."""
    path = run_dir / SAMPLES_JSONL
    if not path.is_file():
        raise MebenchError("no samples.jsonl (the run has not finished)", where=str(run_dir),
                           hint="run the same `mebench run` command again to finish it")
    records: dict[str, dict[str, Any]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MebenchError(f"invalid JSON: {exc.msg}", where=f"{path}:{lineno}") from exc
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
            raise MebenchError("each line must be a JSON object with a string 'id'",
                               where=f"{path}:{lineno}")
        if rec["id"] in records:
            raise MebenchError(f"duplicate sample id {rec['id']!r}", where=f"{path}:{lineno}")
        records[rec["id"]] = rec
    return records


def load_run_dirs(paths: Sequence[Path]) -> list[Run]:
    """Each path a run directory (holding results.json), or a folder of run directories.

    A directory named twice (directly or through its folder) is loaded once.
    """
    found: list[Path] = []
    for path in paths:
        if (path / RESULTS_JSON).is_file() or not path.is_dir():
            found.append(path)
            continue
        children = sorted(p for p in path.iterdir() if (p / RESULTS_JSON).is_file())
        if not children:
            raise MebenchError("no finished runs here", where=str(path),
                               hint="pass run directories (each holding results.json)")
        found.extend(children)
    runs: list[Run] = []
    seen: set[Path] = set()
    for path in found:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            runs.append(Run(path, read_results(path)))
    return runs


def runs_by_name(runs: Sequence[Run]) -> dict[str, Run]:
    """Runs by :attr:`Run.name`; two runs with one name are an error (names must be unique)."""
    named: dict[str, Run] = {}
    for run in runs:
        if run.name in named:
            raise MebenchError(
                f"two runs are named {run.name!r}: {named[run.name].path} and {run.path}",
                where="--runs", hint="pass each model's run once")
        named[run.name] = run
    return named


def name_index(runs: Sequence[Run]) -> dict[str, Run]:
    """Runs by run name, plus by model name where one run alone has that model (so that
    annotations may say ``flux-kontext`` for the run ``flux-kontext-1a2b3c4d``)."""
    named = runs_by_name(runs)
    models: dict[str, list[Run]] = {}
    for run in runs:
        models.setdefault(str(run.results.get("model")), []).append(run)
    for model, holders in models.items():
        if len(holders) == 1 and model not in named:
            named[model] = holders[0]
    return named
