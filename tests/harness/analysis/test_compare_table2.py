"""`mebench compare --by-category`: the paper's Table 2 layout for imgedit runs."""

from __future__ import annotations

import csv
import io
import json
from importlib import resources
from pathlib import Path

import pytest

from mebench.data.imgedit import PAPER_CATEGORIES

# one sample per category; Extract judged too (shown, not averaged, as in the paper's table)
CATS = {"a": "Add", "b": "Adjust", "c": "Replace", "d": "Remove", "e": "Background",
        "f": "Style", "g": "Hybrid", "h": "Action", "x": "Extract"}


@pytest.fixture
def imgedit_runs(make_run) -> Path:  # type: ignore[no-untyped-def]
    make_run("kontext", {"a": 4, "b": 3, "c": 4, "d": 2, "e": 4, "f": 5, "g": 3, "h": 1, "x": 5},
             task="imgedit", categories=CATS)
    return make_run("qwen", {"a": 5, "b": 4, "c": 4, "d": 4, "e": 4, "f": 5, "g": 4, "h": 4,
                             "x": 1}, task="imgedit", categories=CATS).parent


def test_table2_layout_and_overall(invoke, imgedit_runs: Path) -> None:  # type: ignore[no-untyped-def]
    result = invoke("compare", str(imgedit_runs), "--by-category", "--format", "csv")
    assert result.exit_code == 0, result.output
    text = result.output.split("\n\n")[-1] if "\n\n" in result.output else result.output
    lines = text.strip().splitlines()
    table = list(csv.reader(io.StringIO("\n".join(lines[lines.index(next(
        line for line in lines if line.startswith("Model,Add"))):]))))
    assert table[0] == ["Model", "Add", "Adjust", "Replace", "Remove", "Background", "Style",
                        "Hybrid", "Action", "Extract", "Ovl."]
    kontext = dict(zip(table[0], table[1]))
    assert kontext["Model"] == "kontext" and kontext["Extract"] == "5.00"
    assert kontext["Ovl."] == "3.25"  # (4+3+4+2+4+5+3+1)/8: Extract left out
    qwen = dict(zip(table[0], table[2]))
    assert qwen["Ovl."] == "4.25"


def test_table2_with_the_paper_rows_and_footer(invoke, imgedit_runs: Path) -> None:  # type: ignore[no-untyped-def]
    result = invoke("compare", str(imgedit_runs), "--by-category", "--reference", "paper")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "overall by category:" in out
    row = next(line for line in out.splitlines() if "Qwen-Image-Edit + MotionNFT (paper)" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells == ["Qwen-Image-Edit + MotionNFT (paper)", "4.31", "3.72", "4.46", "4.30",
                     "4.21", "4.67", "3.96", "3.87", "", "4.20"]
    assert "Ovl. = mean of the 8 category means" in out and "Extract shown but not averaged" in out
    assert "(paper) rows: published numbers, the paper's Table 2" in out
    # Table 1 (MotionEdit-Bench) rows are not put beside imgedit runs
    assert "MagicBrush" not in out
    # imgedit runs compare with each other: a win rate column
    assert "Win Rate" in out


def test_other_tasks_keep_sorted_categories_and_an_all_column(invoke, make_run) -> None:  # type: ignore[no-untyped-def]
    path = make_run("m", {"s1": 2.0, "s2": 4.0}, categories={"s1": "Pose", "s2": "Orient"})
    result = invoke("compare", str(path), "--by-category", "--format", "json")
    data = json.loads(result.output.split("]\n", 1)[1])
    assert list(data[0]) == ["Model", "Orient", "Pose", "All"]
    assert data[0]["All"] == "50.00"  # the default metric is mas where runs have it


def test_the_paper_table2_data_is_consistent() -> None:
    text = resources.files("mebench.reference").joinpath("paper_table2.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["model"] for r in rows] == ["FLUX.1 Kontext", "FLUX.1 Kontext + MotionNFT",
                                          "Qwen-Image-Edit", "Qwen-Image-Edit + MotionNFT"]
    means = [sum(float(r[c]) for c in PAPER_CATEGORIES) / 8 for r in rows]
    # a copying typo would show here: the published Ovl. is within 0.013 of the mean of the 8
    # printed category scores (exactly it, to rounding, for the two base models only)
    assert [abs(m - float(r["overall"])) <= 0.013 for m, r in zip(means, rows)] == [True] * 4
    assert [round(m, 2) == float(r["overall"]) for m, r in zip(means, rows)] == [
        True, False, True, False]
