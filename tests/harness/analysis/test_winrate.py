"""Win rate across runs of one task, and the compare table's Win Rate column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mebench.analysis.runs import load_run_dirs
from mebench.analysis.winrate import win_rates
from mebench.errors import MebenchError


@pytest.fixture
def three_runs(make_run) -> Path:  # type: ignore[no-untyped-def]
    # A-B: s1 A, s2 tie, s3 B; A-C: s1 A, s2 A (C failed s3, A has no s4 score);
    # B-C: s1 B, s2 B, s4 C.  A: 3 wins 1 tie of 5; B: 3 wins 1 tie of 6; C: 1 win of 5.
    make_run("A", {"s1": 5, "s2": 3, "s3": 2, "s4": None})
    make_run("B", {"s1": 4, "s2": 3, "s3": 4, "s4": 1})
    make_run("C", {"s1": 1, "s2": 1, "s4": 2}, failed=("s3",))
    return make_run("D", {"s1": 5.0}, task="other").parent


def test_wins_ties_and_comparisons(three_runs: Path) -> None:
    runs = load_run_dirs([three_runs])
    assert [r.name for r in runs] == ["A", "B", "C", "D"]
    a, b, c, d = win_rates(runs)
    assert (a.wins, a.ties, a.comparisons) == (3, 1, 5)
    assert (b.wins, b.ties, b.comparisons) == (3, 1, 6)
    assert (c.wins, c.ties, c.comparisons) == (1, 0, 5)
    assert a.rate == pytest.approx(70.0)
    assert b.rate == pytest.approx(350 / 6)
    assert c.rate == pytest.approx(20.0)
    assert d is None  # the only run of its task: compared with nobody


def test_a_run_without_judge_scores_is_not_compared(make_run) -> None:  # type: ignore[no-untyped-def]
    runs = load_run_dirs([make_run("A", {"s1": 2.0}), make_run("B", {"s1": None})])
    assert win_rates(runs) == [None, None]


def test_compare_prints_the_win_rate_column_and_tie_rule(invoke, three_runs: Path) -> None:  # type: ignore[no-untyped-def]
    result = invoke("compare", str(three_runs))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if "Model" in line)
    assert [h.strip() for h in header.strip("│| ").split("│")][:7] == [
        "Model", "Overall", "Fidelity", "Preservation", "Coherence", "MAS", "Win Rate"]
    row_a = next(line for line in lines if line.startswith("│ A "))
    assert "70.00" in row_a
    assert "58.33" in next(line for line in lines if line.startswith("│ B "))
    assert "20.00" in next(line for line in lines if line.startswith("│ C "))
    assert "ties count one half" in result.output
    assert "different tasks: motionedit, other" in result.output


def test_compare_json_has_win_rate_only_where_compared(invoke, three_runs: Path) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(invoke("compare", str(three_runs), "--format", "json").output)
    by_model = {r["model"]: r for r in rows}
    assert by_model["A"]["win_rate"] == pytest.approx(70.0)
    assert by_model["C"]["n_failed"] == 1
    assert "win_rate" not in by_model["D"]


def test_one_run_has_no_win_rate_column(invoke, make_run) -> None:  # type: ignore[no-untyped-def]
    result = invoke("compare", str(make_run("A", {"s1": 2.0})))
    assert result.exit_code == 0 and "Win Rate" not in result.output
    assert "ties count" not in result.output


def test_a_corrupt_samples_file_names_its_line(make_run) -> None:  # type: ignore[no-untyped-def]
    path = make_run("A", {"s1": 2.0})
    (path / "samples.jsonl").write_text('{"id": "s1", "status": "ok"}\n{not json\n')
    with pytest.raises(MebenchError) as info:
        load_run_dirs([path])[0].records()
    assert info.value.where == f"{path / 'samples.jsonl'}:2"
