"""Reading scores out of judge replies, without ever inventing one.

Rubric replies: strict JSON first (what structured output returns), then a tolerant reader for
free text (a JSON object inside prose or a code fence, or ``Fidelity: 4/5`` lines). Every
criterion must be found exactly once (or with one value) and lie in 0-5; anything else is a
failure with the reason. Expected-score replies: the expectation of the digit under the first
token's probabilities, or the digit itself when the API gives no log-probabilities.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mebench.judging.types import RUBRIC_CRITERIA

SCALE_MAX = 5


@dataclass(frozen=True)
class Parsed:
    """Scores (metric name -> value) or the reason there are none."""

    scores: dict[str, float] | None
    error: str | None


def _fail(reason: str) -> Parsed:
    return Parsed(None, reason)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return float(value)
    return None


def _rubric_scores(values: Mapping[str, Any]) -> Parsed:
    lowered = {str(k).strip().lower(): v for k, v in values.items()}
    scores: dict[str, float] = {}
    for name in RUBRIC_CRITERIA:
        if name not in lowered:
            return _fail(f"no {name} score in the reply")
        value = _number(lowered[name])
        if value is None:
            return _fail(f"{name} is not a number: {lowered[name]!r}")
        if not 0 <= value <= SCALE_MAX:
            return _fail(f"{name} {value:g} is outside 0-{SCALE_MAX}")
        scores[name] = value
    scores["overall"] = round(sum(scores.values()) / len(RUBRIC_CRITERIA), 6)
    return Parsed(scores, None)


def parse_rubric_json(text: str) -> Parsed:
    """The reply as one JSON object holding the three criteria (structured output)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return _fail(f"the reply is not valid JSON ({exc.msg} at character {exc.pos})")
    if not isinstance(data, dict):
        return _fail("the reply is JSON but not an object")
    return _rubric_scores(data)


_LINE = re.compile(
    r"\b(fidelity|preservation|coherence)\b[^0-9\n]{0,20}?(?<![-\d.])(\d+(?:\.\d+)?)"
    r"(\s*(?:/|out of)\s*(\d+))?",
    re.IGNORECASE)


def parse_rubric_text(text: str) -> Parsed:
    """The tolerant reader: a JSON object anywhere in the text, else ``name: value`` mentions."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            data, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and any(str(k).lower() in RUBRIC_CRITERIA for k in data):
            return _rubric_scores(data)
    found: dict[str, set[float]] = {}
    for name, value, _, denominator in _LINE.findall(text):
        if denominator and int(denominator) != SCALE_MAX:
            return _fail(f"{name.lower()} is given out of {denominator}, not {SCALE_MAX}")
        found.setdefault(name.lower(), set()).add(float(value))
    if not found:
        return _fail("no scores found in the reply")
    for name, values in found.items():
        if len(values) > 1:
            return _fail(f"{name} is given more than one value: {sorted(values)}")
    return _rubric_scores({k: v.pop() for k, v in found.items()})


def digit_expectation(top: Sequence[tuple[str, float]]) -> tuple[float, dict[str, float]] | None:
    """The expected digit under the first token's top log-probabilities ``(token, logprob)``.

    The probabilities of the tokens ``0``..``5`` (surrounding spaces ignored) are renormalised
    over the digits found, which equals a softmax over those digits' logits (MotionNFT's
    reward); a digit outside the top-k counts as probability 0. ``None`` when no digit is there.
    """
    probs: dict[str, float] = {}
    for token, logprob in top:
        key = token.strip()
        if len(key) == 1 and key in "012345" and math.isfinite(logprob):
            probs[key] = probs.get(key, 0.0) + math.exp(logprob)
    total = sum(probs.values())
    if total <= 0:
        return None
    normal = {k: v / total for k, v in sorted(probs.items())}
    return sum(int(k) * p for k, p in normal.items()), normal


def parse_digit(text: str) -> Parsed:
    """A reply that is one digit 0-5 (surrounding whitespace and a final full stop allowed)."""
    match = re.fullmatch(r"\s*([0-9])\s*\.?\s*", text)
    if match is None:
        return _fail("the reply is not a single digit")
    digit = int(match.group(1))
    if digit > SCALE_MAX:
        return _fail(f"the digit {digit} is outside 0-{SCALE_MAX}")
    return Parsed({"mllm_reward": digit / SCALE_MAX}, None)
