"""Human agreement: reading annotations, Fleiss' and Cohen's kappa, bootstrap CIs, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mebench.analysis.agreement import (agreement_report, build_items, fleiss, majority,
                                        read_annotations)
from mebench.errors import MebenchError

# The Wikipedia example of Fleiss' kappa: 10 subjects, 14 raters, 5 categories; kappa = 0.210.
WIKIPEDIA = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
             [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
             [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]

# 5 items x 3 annotators (hand-computed below); item i5's sample is judged in m1 only.
VOTES = {"i1": ("A", "A", "A"), "i2": ("B", "B", "A"), "i3": ("tie", "B", "B"),
         "i4": ("A", "A", "B"), "i5": ("A", "A", "A")}
ITEMS = {"i1": ("s1", "m1", "m2"), "i2": ("s2", "m1", "m2"), "i3": ("s3", "m2", "m1"),
         "i4": ("s4", "m1", "m2"), "i5": ("s5", "m1", "m2")}
# metric: i1 A (4 > 2), i2 B (2 < 3), i3 A (m2 5 > m1 3), i4 tie (3 = 3), i5 undecided
OVERALL = {"m1": {"s1": 4.0, "s2": 2.0, "s3": 3.0, "s4": 3.0, "s5": 4.0},
           "m2": {"s1": 2.0, "s2": 3.0, "s3": 5.0, "s4": 3.0}}


def write_csv(path: Path, votes: dict = VOTES, items: dict = ITEMS) -> Path:
    lines = ["item_id,sample_id,model_a,model_b,annotator,choice,note"]
    for item, choices in votes.items():
        for k, choice in enumerate(choices, start=1):
            lines.append(",".join([item, *items[item], f"ann{k}", choice, "free text"]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fleiss_kappa_matches_the_wikipedia_example() -> None:
    labels = np.array([[c for c, count in enumerate(row) for _ in range(count)]
                       for row in WIKIPEDIA])
    assert labels.shape == (10, 14)
    assert fleiss(labels, n_cat=5) == pytest.approx(0.20993, abs=1e-5)
    assert round(fleiss(labels, n_cat=5), 3) == 0.210


def test_majority_is_the_plurality_else_tie() -> None:
    # A A B -> A; B B tie -> B; tie tie A -> tie; A B tie -> no plurality -> tie
    labels = np.array([[0, 0, 1], [1, 1, 2], [2, 2, 0], [0, 1, 2]])
    assert majority(labels).tolist() == [0, 1, 2, 2]
    assert majority(np.array([[0, 0, 1, 1]])).tolist() == [2]


def test_report_values_are_the_hand_computed_ones(tmp_path: Path) -> None:
    items = build_items(read_annotations(write_csv(tmp_path / "a.csv")))
    assert items.annotators == ["ann1", "ann2", "ann3"]
    report = agreement_report(items, OVERALL, seed=3, resamples=200)
    stats = {s["name"]: s for s in report["statistics"]}
    # among annotators: P = 0.6, Pe = 107/225 -> kappa = 14/59
    assert stats["Fleiss' kappa, 3 annotators"]["value"] == pytest.approx(14 / 59, abs=1e-6)
    assert stats["Fleiss' kappa, 3 annotators"]["n"] == 5
    assert stats["Raw agreement, annotator pairs"]["value"] == pytest.approx(0.6)
    # majority (A, B, B, A) vs metric (A, B, A, tie) on the 4 decided items
    assert report["items_with_metric"] == 4
    assert stats["Raw agreement, majority vs metric"]["value"] == pytest.approx(0.5)
    assert stats["Fleiss' kappa, majority vs metric"]["value"] == pytest.approx(3 / 19, abs=1e-6)
    assert stats["Cohen's kappa, majority vs metric"]["value"] == pytest.approx(0.2, abs=1e-6)
    assert stats["Cohen's kappa, majority vs metric"]["n"] == 4
    assert stats["Raw agreement, ann1 vs metric"]["value"] == pytest.approx(0.5)
    assert stats["Cohen's kappa, ann1 vs metric"]["value"] == pytest.approx(0.2, abs=1e-6)
    lo, hi = stats["Raw agreement, majority vs metric"]["ci95"]
    assert 0.0 <= lo < 0.5 < hi <= 1.0


def test_bootstrap_is_seeded(tmp_path: Path) -> None:
    items = build_items(read_annotations(write_csv(tmp_path / "a.csv")))
    first = agreement_report(items, OVERALL, seed=1, resamples=100)
    assert agreement_report(items, OVERALL, seed=1, resamples=100) == first
    other = agreement_report(items, OVERALL, seed=2, resamples=100)
    assert [s["ci95"] for s in other["statistics"]] != [s["ci95"] for s in first["statistics"]]


def test_a_spreadsheet_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert build_items(read_annotations(path)).ids == list(VOTES)


def test_jsonl_reads_like_csv(tmp_path: Path) -> None:
    rows = [{"item_id": i, "sample_id": ITEMS[i][0], "model_a": ITEMS[i][1],
             "model_b": ITEMS[i][2], "annotator": f"ann{k}", "choice": c.upper()}
            for i, votes in VOTES.items() for k, c in enumerate(votes, start=1)]
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    from_jsonl = build_items(read_annotations(path))
    from_csv = build_items(read_annotations(write_csv(tmp_path / "a.csv")))
    assert np.array_equal(from_jsonl.labels, from_csv.labels)  # "TIE" read as tie


@pytest.mark.parametrize(("edit", "where", "message"), [
    (lambda t: t.replace("i2,s2,m1,m2,ann1,B", "i2,s2,m1,m2,ann1,C"), ":5: choice",
     "choice 'C' is not one of A|B|tie"),
    (lambda t: t.replace("i2,s2,m1,m2,ann1,B", "i2,s2,m1,m2,ann1,"), ":5: choice",
     "field 'choice' is missing or empty (allowed: A|B|tie)"),
    (lambda t: t.replace("annotator,", "rater,"), ":1", "the header lacks column 'annotator'"),
    (lambda t: t.replace("i2,s2,m1,m2,ann2", "i2,s9,m1,m2,ann2"), ":6",
     "item 'i2' is (sample, model_a, model_b)"),
    (lambda t: t.replace("i2,s2,m1,m2,ann2", "i2,s2,m1,m2,ann1"), ":6",
     "annotator 'ann1' rated item 'i2' twice"),
    (lambda t: t.replace("i1,s1,m1,m2,ann1", "i1,s1,m1,m1,ann1"), ":2: model_b",
     "model_a and model_b are both 'm1'"),
])
def test_bad_annotations_name_file_line_and_field(tmp_path: Path, edit, where: str,  # type: ignore[no-untyped-def]
                                                  message: str) -> None:
    path = write_csv(tmp_path / "a.csv")
    path.write_text(edit(path.read_text()))
    with pytest.raises(MebenchError) as info:
        build_items(read_annotations(path))
    assert info.value.where == str(path) + where
    assert message in info.value.message


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    row = {"item_id": 1, "sample_id": "s1", "model_a": "m1", "model_b": "m2", "annotator": "x"}
    path.write_text(json.dumps({**row, "choice": "A"}) + "\n\n" + json.dumps({**row, "choice": 1})
                    + "\n")
    with pytest.raises(MebenchError) as info:
        read_annotations(path)
    assert info.value.where == f"{path}:3: choice"
    assert "field 'choice' is int, not text (allowed: A|B|tie)" in info.value.message
    path.write_text("{oops\n")
    with pytest.raises(MebenchError, match="invalid JSON") as info:
        read_annotations(path)
    assert info.value.where == f"{path}:1"


def test_an_annotator_missing_an_item_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv")
    path.write_text("\n".join(line for line in path.read_text().splitlines()
                              if not line.startswith("i3,s3,m2,m1,ann3")) + "\n")
    with pytest.raises(MebenchError, match="annotator 'ann3' has no choice for item 'i3'"):
        build_items(read_annotations(path))


def test_cli_table_json_and_unknown_model(invoke, tmp_path: Path, make_run) -> None:  # type: ignore[no-untyped-def]
    sheet = write_csv(tmp_path / "a.csv")
    make_run("m1", OVERALL["m1"])
    make_run("m2", {**OVERALL["m2"], "s5": None})
    runs = str(tmp_path / "runs")
    table = invoke("agreement", str(sheet), "--runs", runs, "--resamples", "50")
    assert table.exit_code == 0, table.output
    assert "Fleiss' kappa, 3 annotators" in table.output and "0.237" in table.output
    assert "1 item(s) without both Overall scores" in table.output
    data = json.loads(invoke("agreement", str(sheet), "--runs", runs, "--format", "json",
                             "--resamples", "50").output)
    assert data["items"] == 5 and data["items_with_metric"] == 4
    alone = json.loads(invoke("agreement", str(sheet), "--format", "json",
                              "--resamples", "50").output)
    assert [s["name"] for s in alone["statistics"]] == [
        "Fleiss' kappa, 3 annotators", "Raw agreement, annotator pairs"]
    other = make_run("m9", {"s1": 1.0}, task="imgedit", root=tmp_path / "other")
    mixed = invoke("agreement", str(sheet), "--runs", runs, "--runs", str(other))
    assert mixed.exit_code == 2 and "different tasks: imgedit, motionedit" in mixed.output
    wrong = write_csv(tmp_path / "b.csv", items={**ITEMS, "i1": ("s1", "m1", "m3")})
    bad = invoke("agreement", str(wrong), "--runs", runs)
    assert bad.exit_code == 2
    assert "model 'm3' of the annotations is none of the runs" in bad.output
