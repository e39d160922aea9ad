"""Reading scores out of replies: every accepted shape and every refusal (never a made-up score)."""

from __future__ import annotations

import math

import pytest

from mebench.judging.parsing import (digit_expectation, parse_digit, parse_rubric_json,
                                     parse_rubric_text)


def test_structured_json_gives_the_three_criteria_and_their_mean() -> None:
    parsed = parse_rubric_json('{"reasoning": "ok", "fidelity": 4, "preservation": 3, '
                               '"coherence": 2}')
    assert parsed.error is None
    assert parsed.scores == {"fidelity": 4.0, "preservation": 3.0, "coherence": 2.0,
                             "overall": 3.0}


@pytest.mark.parametrize(("text", "error"), [
    ('{"fidelity": 4, "preservation": 3, "coherence": 2', "not valid JSON"),
    ('[4, 3, 2]', "not an object"),
    ('{"fidelity": 4, "preservation": 3}', "no coherence score"),
    ('{"fidelity": 6, "preservation": 3, "coherence": 2}', "fidelity 6 is outside 0-5"),
    ('{"fidelity": -1, "preservation": 3, "coherence": 2}', "fidelity -1 is outside 0-5"),
    ('{"fidelity": "high", "preservation": 3, "coherence": 2}', "is not a number"),
    ('{"fidelity": true, "preservation": 3, "coherence": 2}', "is not a number"),
])
def test_structured_json_refusals(text: str, error: str) -> None:
    parsed = parse_rubric_json(text)
    assert parsed.scores is None and error in (parsed.error or "")


@pytest.mark.parametrize("text", [
    'Sure! ```json\n{"fidelity": 4, "preservation": 3, "coherence": 2}\n```',
    "Fidelity: 4/5\nPreservation: 3 / 5\nCoherence - 2",
    "**Fidelity**: 4\n**Preservation**: 3\n**Coherence**: 2 out of 5",
    '{"Fidelity": "4", "Preservation": 3.0, "Coherence": 2}',
])
def test_free_text_reader_accepts_common_shapes(text: str) -> None:
    parsed = parse_rubric_text(text)
    assert parsed.error is None
    assert parsed.scores == {"fidelity": 4.0, "preservation": 3.0, "coherence": 2.0,
                             "overall": 3.0}


@pytest.mark.parametrize(("text", "error"), [
    ("The edit is good.", "no scores found"),
    ("Fidelity: 4\nPreservation: 3", "no coherence score"),
    ("Fidelity: -1\nPreservation: 3\nCoherence: 2", "no fidelity score"),
    ("Fidelity: 8/10\nPreservation: 3\nCoherence: 2", "out of 10"),
    ("Fidelity: 4\nFidelity: 2\nPreservation: 3\nCoherence: 2", "more than one value"),
    ('{"reasoning": "cut off", "fidelity": 4, "preserv', "no preservation score"),
])
def test_free_text_reader_refuses_what_it_cannot_read(text: str, error: str) -> None:
    parsed = parse_rubric_text(text)
    assert parsed.scores is None and error in (parsed.error or "")


def test_digit_expectation_renormalises_over_the_digits_found() -> None:
    top = [("3", math.log(0.5)), (" 4", math.log(0.25)), ("The", math.log(0.2)),
           ("5", math.log(0.05))]
    value, probs = digit_expectation(top)  # type: ignore[misc]
    assert probs == pytest.approx({"3": 0.625, "4": 0.3125, "5": 0.0625})
    assert value == pytest.approx(3 * 0.625 + 4 * 0.3125 + 5 * 0.0625)


def test_digit_expectation_needs_a_digit() -> None:
    assert digit_expectation([("The", -0.1), ("9", -2.0)]) is None
    assert digit_expectation([]) is None


@pytest.mark.parametrize(("text", "value"), [("4", 0.8), (" 0\n", 0.0), ("5.", 1.0)])
def test_digit_reply(text: str, value: float) -> None:
    assert parse_digit(text).scores == {"mllm_reward": value}


@pytest.mark.parametrize(("text", "error"), [("7", "outside 0-5"), ("4/5", "not a single digit"),
                                             ("I'd say 4", "not a single digit"), ("", "not a")])
def test_digit_reply_refusals(text: str, error: str) -> None:
    parsed = parse_digit(text)
    assert parsed.scores is None and error in (parsed.error or "")
