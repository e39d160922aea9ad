"""ImgEdit-Bench's basic set: the release-format loader, the task file and the rubric prompts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from mebench.analysis.rubrics import render_rubric, rubric_file, rubric_text, rubric_version
from mebench.data import effective_dataset, load_samples
from mebench.data.imgedit import CATEGORIES
from mebench.errors import MebenchError
from mebench.taskfile import TaskIndex, builtin_task_dir, load_task_file

# A small copy of the release's shape: keys -> {id: image path, prompt, edit_type}
ENTRIES = {
    "1082": {"id": "animal/0001.jpg", "prompt": "Make the shell smooth.", "edit_type": "alter"},
    "97": {"id": "for_add/0002.jpg", "prompt": "Add a chandelier.", "edit_type": "add"},
    "1149": {"id": "compose/human/14.jpg", "prompt": "Remove the box and brighten the scene.",
             "edit_type": "compose"},
    "1009": {"id": "human/0003.jpg", "prompt": "Make the person lift his head.",
             "edit_type": "action"},
    "450": {"id": "clothes/0004.jpg", "prompt": "Extract the striped top.",
            "edit_type": "extract"},
}


def write_release(root: Path, entries: dict = ENTRIES, images: Path | None = None) -> Path:
    images = images or root
    for n, entry in enumerate(entries.values()):
        path = images / entry["id"]
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32 + n, 24), (n * 40, 0, 0)).save(path, format="JPEG")
    root.mkdir(parents=True, exist_ok=True)
    (root / "basic_edit.json").write_text(json.dumps(entries, indent=4))
    return root


def imgedit_task():  # type: ignore[no-untyped-def]
    return TaskIndex([builtin_task_dir()]).load("imgedit")


def load(path: Path, limit: int | None = None, **options: str):  # type: ignore[no-untyped-def]
    return load_samples(effective_dataset(imgedit_task(), str(path), options or None), limit)


def test_the_task_file_is_judged_only() -> None:
    task = imgedit_task()
    assert task.metrics == ()
    assert task.judge is not None and task.judge.prompt == "imgedit"
    assert task.dataset.source == "builtin" and task.dataset.path == "imgedit-basic"


def test_loads_the_release_format_in_key_order(tmp_path: Path) -> None:
    samples = load(write_release(tmp_path / "Basic"))
    assert [s.id for s in samples] == ["1082", "97", "1149", "1009", "450"]
    assert [s.category for s in samples] == ["Adjust", "Add", "Hybrid", "Action", "Extract"]
    first = samples[0]
    assert first.instruction == "Make the shell smooth." and first.target is None
    assert first.flow is None
    assert first.source.load().size == (32, 24)
    assert samples[2].source.load().size == (34, 24)
    assert first.metadata["imgedit"] == {"image": "animal/0001.jpg", "edit_type": "alter"}


def test_the_json_file_itself_a_separate_image_root_and_limit(tmp_path: Path) -> None:
    root = write_release(tmp_path / "Basic", images=tmp_path / "originals")
    samples = load(root / "basic_edit.json", limit=2, images=str(tmp_path / "originals"))
    assert [s.id for s in samples] == ["1082", "97"]
    with pytest.raises(MebenchError) as info:
        load(root)  # images default to the JSON's folder, where they are not
    assert "original image 'animal/0001.jpg' not found" in info.value.message
    assert "key '1082'" in str(info.value.where) and "images=DIR" in str(info.value.hint)


@pytest.mark.parametrize(("entries", "message"), [
    ({"7": {"id": "a.jpg", "prompt": "x", "edit_type": "warp"}}, "unknown edit_type 'warp'"),
    ({"7": {"id": "a.jpg", "prompt": "", "edit_type": "add"}}, "field 'prompt' is missing"),
    ({"7": ["a.jpg"]}, "expected an object {id, prompt, edit_type}"),
    ({"../7": {"id": "a.jpg", "prompt": "x", "edit_type": "add"}}, "cannot name a file"),
])
def test_bad_entries_name_the_key(tmp_path: Path, entries: dict, message: str) -> None:
    root = tmp_path / "Basic"
    root.mkdir()
    Image.new("RGB", (8, 8)).save(root / "a.jpg")
    (root / "basic_edit.json").write_text(json.dumps(entries))
    with pytest.raises(MebenchError) as info:
        load(root)
    assert message in info.value.message
    assert str(root / "basic_edit.json") in str(info.value.where)


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(MebenchError, match="needs the path of basic_edit.json"):
        load_samples(imgedit_task().dataset)
    with pytest.raises(MebenchError, match="no basic_edit.json"):
        load(tmp_path)
    root = write_release(tmp_path / "Basic")
    with pytest.raises(MebenchError, match="unknown option 'imgs'"):
        load(root, imgs="x")
    (root / "basic_edit.json").write_text('{"1": {}, "1": {}}')
    with pytest.raises(MebenchError, match="duplicate key '1'"):
        load(root)
    (root / "basic_edit.json").write_text('[1, 2]')
    with pytest.raises(MebenchError, match="expected a JSON object mapping keys"):
        load(root)


def test_metrics_may_be_empty_only_with_a_judge(tmp_path: Path) -> None:
    base = "task: t\nversion: 1\ndataset: {source: hub, path: org/data}\nmetrics: []\n"
    (tmp_path / "judged.yaml").write_text(base + "judge: {name: some-judge}\n")
    assert load_task_file(tmp_path / "judged.yaml").metrics == ()
    (tmp_path / "bare.yaml").write_text(base)
    with pytest.raises(MebenchError) as info:
        load_task_file(tmp_path / "bare.yaml")
    assert str(info.value.where).endswith("bare.yaml:4: metrics")
    assert "only for a task with a judge" in info.value.message


def test_every_category_has_a_rubric_with_the_instruction_slot() -> None:
    names = {rubric_file(c) for c in CATEGORIES}
    assert names == {"add.txt", "adjust.txt", "replace.txt", "remove.txt", "background.txt",
                     "style.txt", "hybrid.txt", "action.txt", "extract.txt"}
    for category in CATEGORIES:
        text = rubric_text(category)
        assert text.count("$instruction") == 1
        for criterion in ("fidelity", "preservation", "coherence"):
            assert f"- {criterion} (" in text and f'"{criterion}": <1-5>' in text
        prompt = render_rubric(category, "Raise the person's right arm.")
        assert "\"Raise the person's right arm.\"" in prompt and "$" not in prompt
    assert len({rubric_text(c) for c in CATEGORIES}) == len(CATEGORIES)
    assert re.fullmatch(r"[0-9a-f]{12}", rubric_version())
    with pytest.raises(MebenchError, match="no ImgEdit rubric for category 'Warp'"):
        rubric_file("Warp")


def test_imgedit_runs_end_to_end_judge_only(invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """No target, no flow: the run generates, judges each sample with its category's rubric and
    prints the Table 2 layout with --by-category."""
    from servers.judge_api import FakeJudgeAPI

    release = write_release(tmp_path / "Basic")
    with FakeJudgeAPI() as api:
        result = invoke("run", "--task", "imgedit", "--dataset-path", str(release),
                        "--model", "identity", "--output", str(tmp_path / "runs"),
                        "--no-progress", "--judge", "openai-compatible", "--judge-args",
                        f"base_url={api.openai_base_url},model=judge-model")
        assert result.exit_code == 0, result.output
        prompts = [e for e in api.exchanges()]
    assert len(prompts) == len(ENTRIES)
    results = json.loads((tmp_path / "runs" / "identity" / "results.json").read_text())
    assert results["flow"] is None and "mas" not in results["metrics"]
    assert results["metrics"]["overall"]["n"] + results["judge"]["n_failed"] == len(ENTRIES)
    assert set(results["by_category"]) == {"Adjust", "Add", "Hybrid", "Action", "Extract"}
    table = invoke("compare", str(tmp_path / "runs" / "identity"), "--by-category")
    assert table.exit_code == 0, table.output
    assert "Background" in table.output and "Ovl." in table.output
