"""The task file's judge section: mode and reference (both sides of each check)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mebench.errors import MebenchError
from mebench.taskfile import load_task_file

MINIMAL = """\
task: t
version: 1
dataset:
  source: hub
  path: org/data
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _write(text: str) -> Path:
    path = Path("t.yaml")
    path.write_text(MINIMAL + text, encoding="utf-8")
    return path


def test_judge_defaults_are_rubric_without_reference() -> None:
    task = load_task_file(_write("judge: {name: gemini}\n"))
    assert task.judge is not None
    assert (task.judge.mode, task.judge.reference) == ("rubric", False)


def test_judge_mode_and_reference_are_read_and_hashed() -> None:
    plain = load_task_file(_write("judge: {name: gemini}\n"))
    task = load_task_file(_write("judge:\n  name: openai-compatible\n  mode: expected-score\n"
                                 "  reference: true\n  args: {base_url: 'http://x/v1'}\n"))
    assert task.judge is not None
    assert (task.judge.mode, task.judge.reference) == ("expected-score", True)
    assert task.to_dict()["judge"]["mode"] == "expected-score"
    assert task.content_hash() != plain.content_hash()


@pytest.mark.parametrize(("text", "where", "expected"), [
    ("judge: {name: gemini, mode: score}\n", "t.yaml:6: judge.mode",
     "expected one of rubric, expected-score, got 'score'"),
    ("judge: {name: gemini, reference: 'yes'}\n", "t.yaml:6: judge.reference",
     "expected true or false, got 'yes' (a string)"),
    ("judge: {name: gemini, refrence: true}\n", "t.yaml:6: judge.refrence",
     "unknown key 'refrence'"),
])
def test_bad_judge_settings_name_file_line_and_field(text: str, where: str,
                                                     expected: str) -> None:
    with pytest.raises(MebenchError) as info:
        load_task_file(_write(text))
    assert info.value.where == where
    assert expected in info.value.message
