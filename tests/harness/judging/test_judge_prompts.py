"""Prompts: ids, hashes, the checks that a prompt fits the judge, and message rendering."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import pytest

from mebench.errors import MebenchError
from mebench.judging.prompts import builtin_prompt_ids, load_prompt
from mebench.judging.types import JudgeImage, JudgeRequest


def _image(tag: bytes) -> JudgeImage:
    return JudgeImage(tag, hashlib.sha256(tag).hexdigest())


REQUEST = JudgeRequest("s1", "Make the cat jump.", _image(b"src"), _image(b"edit"))


def test_builtin_prompts_and_defaults() -> None:
    assert builtin_prompt_ids() == ["mllm-reward-v1", "motion-rubric-ref-v1", "motion-rubric-v1"]
    assert load_prompt(None, mode="rubric", reference=False).id == "motion-rubric-v1"
    assert load_prompt(None, mode="rubric", reference=True).id == "motion-rubric-ref-v1"
    assert load_prompt(None, mode="expected-score", reference=False).id == "mllm-reward-v1"


def test_prompt_hash_is_the_sha256_of_the_shipped_text() -> None:
    text = resources.files("mebench.judging").joinpath("prompts", "motion-rubric-v1.txt")
    prompt = load_prompt("motion-rubric-v1", mode="rubric", reference=False)
    assert prompt.hash == hashlib.sha256(text.read_bytes()).hexdigest()


def test_render_places_images_where_the_markers_are() -> None:
    parts = load_prompt(None, mode="rubric", reference=False).render(REQUEST)
    kinds = [p.data if isinstance(p, JudgeImage) else "text" for p in parts]
    assert kinds == ["text", b"src", "text", b"edit", "text"]
    assert '"Make the cat jump."' in parts[-1]  # type: ignore[operator]
    assert "$instruction" not in "".join(p for p in parts if isinstance(p, str))


def test_reference_prompt_needs_a_target() -> None:
    prompt = load_prompt(None, mode="rubric", reference=True)
    with pytest.raises(MebenchError, match="shows the target image"):
        prompt.render(REQUEST)
    with_target = JudgeRequest("s1", "x", _image(b"src"), _image(b"edit"), _image(b"tgt"))
    images = [p.data for p in prompt.render(with_target) if isinstance(p, JudgeImage)]
    assert images == [b"src", b"edit", b"tgt"]


def test_a_prompt_file_without_markers_gets_the_images_first(tmp_path: Path) -> None:
    path = tmp_path / "mine-v1.txt"
    path.write_text("Rate the edit '$instruction' from 0 to 5 as a single digit.")
    prompt = load_prompt(str(path), mode="expected-score", reference=False)
    assert prompt.id == "mine-v1"
    parts = prompt.render(REQUEST)
    assert [type(p).__name__ for p in parts] == ["JudgeImage", "JudgeImage", "str"]
    assert parts[2] == "Rate the edit 'Make the cat jump.' from 0 to 5 as a single digit."


@pytest.mark.parametrize(("prompt", "mode", "reference", "message"), [
    ("motion-rubrik-v1", "rubric", False, "unknown judge prompt 'motion-rubrik-v1'"),
    ("motion-rubric-ref-v1", "rubric", False, "shows the target image, but the judge's "
                                              "reference is false"),
    ("motion-rubric-v1", "rubric", True, "does not show the target image"),
    (None, "expected-score", True, "no built-in expected-score prompt"),
    (None, "score", False, "unknown judge mode 'score'"),
    ("missing.txt", "rubric", False, "not found"),
])
def test_prompts_that_do_not_fit_are_refused(prompt: str | None, mode: str, reference: bool,
                                             message: str) -> None:
    with pytest.raises(MebenchError, match=message) as info:
        load_prompt(prompt, mode=mode, reference=reference)
    if prompt == "motion-rubrik-v1":
        assert "did you mean 'motion-rubric-v1'?" in (info.value.hint or "")


def test_a_prompt_without_the_instruction_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("Rate this edit.")
    with pytest.raises(MebenchError, match="never places the instruction"):
        load_prompt(str(path), mode="rubric", reference=False)


def test_a_prompt_set_picks_the_prompt_of_the_sample_category(tmp_path: Path) -> None:
    folder = tmp_path / "myset"
    folder.mkdir()
    (folder / "add.txt").write_text("Adding: $instruction")
    (folder / "remove.txt").write_text("Removing: $instruction")
    prompts = load_prompt(str(folder), mode="rubric", reference=False)
    assert prompts.id == "myset"
    add = JudgeRequest("s1", "a hat", _image(b"src"), _image(b"edit"), category="Add")
    assert prompts.render(add)[-1] == "Adding: a hat"
    (folder / "remove.txt").write_text("Removing now: $instruction")
    assert load_prompt(str(folder), mode="rubric", reference=False).hash != prompts.hash
    style = JudgeRequest("s2", "x", _image(b"src"), _image(b"edit"), category="Style")
    with pytest.raises(MebenchError, match="has no prompt for category 'Style'"):
        prompts.render(style)
    with pytest.raises(MebenchError, match="is for the rubric mode"):
        load_prompt(str(folder), mode="expected-score", reference=False)


def test_the_imgedit_set_is_registered() -> None:
    prompts = load_prompt("imgedit", mode="rubric", reference=False)
    assert prompts.id == "imgedit"
    request = JudgeRequest("k", "Add a hat.", _image(b"src"), _image(b"edit"), category="Add")
    assert '"Add a hat."' in prompts.render(request)[-1]  # type: ignore[operator]


def test_an_instruction_is_text_even_when_it_looks_like_a_marker() -> None:
    prompt = load_prompt(None, mode="rubric", reference=False)
    tricky = JudgeRequest("s1", "Jump.\n<image:source>\n$instruction", _image(b"src"),
                          _image(b"edit"))
    parts = prompt.render(tricky)
    assert [p.data for p in parts if isinstance(p, JudgeImage)] == [b"src", b"edit"]
    assert any("<image:source>\n$instruction" in p for p in parts if isinstance(p, str))
    assert prompt.render(REQUEST) == prompt.render(REQUEST)  # the split is kept, not consumed
