"""API usage of a run: one JSON line per request in ``usage.jsonl``, totals in ``run.json``.

A model adapter that calls a paid API exposes ``drain_usage() -> list[dict]`` (one record per
sample: ``sample_id``, ``status``, ``attempts``, ``seconds``, ``input_tokens``, ``output_tokens``,
``cost_usd``, and ``error`` on failure). The runner appends them after every batch, from every
rank (each batch is one ``O_APPEND`` write, so lines from two ranks never interleave), and a
resumed run appends again: the file is what the run has spent, retries and reruns included.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

USAGE_JSONL = "usage.jsonl"


def append_usage(run_dir: Path, records: Sequence[dict[str, Any]], *, rank: int = 0) -> None:
    if not records:
        return
    text = "".join(json.dumps({**r, "rank": rank}, sort_keys=True, ensure_ascii=False) + "\n"
                   for r in records)
    fd = os.open(run_dir / USAGE_JSONL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def usage_totals(run_dir: Path) -> dict[str, Any] | None:
    """Totals over ``usage.jsonl`` (``None`` when the model made no API calls)."""
    path = run_dir / USAGE_JSONL
    if not path.is_file():
        return None
    totals: dict[str, Any] = {"requests": 0, "failed": 0, "attempts": 0, "input_tokens": 0,
                              "output_tokens": 0, "cost_usd": 0.0}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        totals["requests"] += 1
        totals["failed"] += record.get("status") != "ok"
        for key in ("attempts", "input_tokens", "output_tokens", "cost_usd"):
            totals[key] += record.get(key) or 0
    totals["cost_usd"] = round(totals["cost_usd"], 9)
    return totals
