"""Annotation sheets for the pairwise human study (`mebench pairs`)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mebench.analysis.pairs import SHEET_COLUMNS, draw_pairs
from mebench.analysis.runs import load_run_dirs
from mebench.errors import MebenchError

IDS = [f"s{i:02d}" for i in range(12)]


@pytest.fixture
def runs(make_run) -> Path:  # type: ignore[no-untyped-def]
    make_run("m1", {sid: 3.0 for sid in IDS})
    make_run("m2", {sid: 2.0 for sid in IDS[:10]}, failed=("s10", "s11"))
    make_run("m3", {sid: 4.0 for sid in IDS})
    return make_run("m4", {sid: 1.0 for sid in IDS}).parent


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_design(runs: Path) -> None:
    rows = draw_pairs(load_run_dirs([runs]), n=8, seed=5, annotators=3)
    assert len(rows) == 24 and list(rows[0]) == list(SHEET_COLUMNS)
    items = {r["item_id"]: r for r in rows}
    assert sorted(items) == [f"item-{i}" for i in range(1, 9)]
    samples = [r["sample_id"] for r in items.values()]
    assert len(set(samples)) == 8
    assert set(samples) <= set(IDS[:10])  # s10, s11 failed in m2: not scored by every run
    for item in items.values():
        assert item["model_a"] != item["model_b"]
        assert {item["model_a"], item["model_b"]} <= {"m1", "m2", "m3", "m4"}
        assert [r["annotator"] for r in rows if r["item_id"] == item["item_id"]] == [
            "annotator-1", "annotator-2", "annotator-3"]
    assert all(r["choice"] == "" for r in rows)
    # random order: over 8 items both models appear as A
    assert len({r["model_a"] for r in items.values()}) > 1


def test_deterministic_for_a_seed(invoke, runs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outs = []
    for name, seed in (("a.csv", "7"), ("b.csv", "7"), ("c.csv", "8")):
        result = invoke("pairs", "--runs", str(runs), "--n", "6", "--seed", seed,
                        "--out", str(tmp_path / "sheets" / name))
        assert result.exit_code == 0, result.output
        assert "6 items x 3 annotators = 18 rows" in result.output
        outs.append((tmp_path / "sheets" / name).read_bytes())
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


def test_image_paths_are_relative_to_the_sheet(invoke, runs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "study" / "sheet.csv"
    assert invoke("pairs", "--runs", str(runs), "--n", "3", "--out", str(out)).exit_code == 0
    for row in read(out):
        for key, model in (("image_a", row["model_a"]), ("image_b", row["model_b"])):
            assert not Path(row[key]).is_absolute()
            image = (out.parent / row[key]).resolve()
            assert image == (runs / model / "outputs" / f"{row['sample_id']}.png").resolve()
            assert image.is_file()
        assert row["instruction"] == f"do {row['sample_id']}"


def test_a_filled_sheet_reads_back_with_agreement(invoke, runs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "sheet.csv"
    invoke("pairs", "--runs", str(runs), "--n", "5", "--annotators", "2", "--out", str(out))
    rows = read(out)
    scores = {"m1": 3.0, "m2": 2.0, "m3": 4.0, "m4": 1.0}
    for row in rows:  # both annotators pick the model the judge prefers: perfect agreement
        row["choice"] = "A" if scores[row["model_a"]] > scores[row["model_b"]] else "B"
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = invoke("agreement", str(out), "--runs", str(runs), "--format", "json",
                    "--resamples", "20")
    assert result.exit_code == 0, result.output
    import json

    stats = {s["name"]: s["value"] for s in json.loads(result.output)["statistics"]}
    assert stats["Raw agreement, majority vs metric"] == 1.0
    assert stats["Raw agreement, annotator pairs"] == 1.0


def test_errors(invoke, runs: Path, tmp_path: Path, make_run) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MebenchError, match="only 10 samples are scored by every run, 11"):
        draw_pairs(load_run_dirs([runs]), n=11, seed=0)
    with pytest.raises(MebenchError, match="at least two runs"):
        draw_pairs(load_run_dirs([runs / "m1"]), n=1, seed=0)
    other = make_run("x", {"s00": 1.0}, task="imgedit", root=tmp_path / "other")
    with pytest.raises(MebenchError, match="different tasks: imgedit, motionedit"):
        draw_pairs(load_run_dirs([runs / "m1", other]), n=1, seed=0)
    out = tmp_path / "taken.csv"
    out.write_text("filled in\n")
    result = invoke("pairs", "--runs", str(runs), "--n", "2", "--out", str(out))
    assert result.exit_code == 2 and "the sheet exists" in result.output
    assert out.read_text() == "filled in\n"
