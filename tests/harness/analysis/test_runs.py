"""Reading finished runs for the analyses: names, judged samples, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mebench.analysis.runs import load_run_dirs, name_index, runs_by_name
from mebench.errors import MebenchError


def test_overall_counts_only_judged_ok_samples(make_run) -> None:  # type: ignore[no-untyped-def]
    path = make_run("m", {"s1": 4.0, "s2": None, "s3": 0.0}, failed=("s4",))
    (run,) = load_run_dirs([path])
    assert run.overall() == {"s1": 4.0, "s3": 0.0}
    assert set(run.records()) == {"s1", "s2", "s3", "s4"}


def test_two_runs_with_one_name_are_refused(make_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = make_run("m", {"s1": 1.0}, root=tmp_path / "x")
    b = make_run("m", {"s1": 2.0}, root=tmp_path / "y")
    with pytest.raises(MebenchError, match="two runs are named 'm'"):
        runs_by_name(load_run_dirs([a, b]))


def test_a_unique_model_name_is_an_alias_of_its_run(make_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths = [make_run(n, {"s1": 1.0}) for n in ("flux-1a2b", "flux-3c4d", "qwen-5e6f")]
    for path, model in zip(paths, ("flux", "flux", "qwen")):
        results = json.loads((path / "results.json").read_text())
        (path / "results.json").write_text(json.dumps({**results, "model": model}))
    index = name_index(load_run_dirs(paths))
    assert index["qwen"].name == "qwen-5e6f"
    assert "flux" not in index  # two runs of flux: ambiguous, only their run names count
    assert set(index) == {"flux-1a2b", "flux-3c4d", "qwen-5e6f", "qwen"}


def test_a_folder_without_runs_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(MebenchError, match="no finished runs here"):
        load_run_dirs([tmp_path / "empty"])


def test_a_run_named_twice_is_loaded_once(make_run) -> None:  # type: ignore[no-untyped-def]
    path = make_run("m", {"s1": 1.0})
    make_run("n", {"s1": 2.0})
    assert [r.name for r in load_run_dirs([path, path.parent, path])] == ["m", "n"]
