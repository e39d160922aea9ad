"""Tests of mebench.taskfile: the shipped tasks, every error kind (file, line, field), includes,
immutability, discovery and `validate_paths`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mebench.errors import MebenchError
from mebench.taskfile import (
    ColumnMap,
    MetricConfig,
    TaskConfig,
    TaskIndex,
    builtin_task_dir,
    load_task_file,
    validate_paths,
)

MINIMAL = """\
task: t
version: 1
dataset:
  source: hub
  path: org/data
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path so that error locations read `t.yaml:3: field`."""
    monkeypatch.chdir(tmp_path)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(path: Path, **kwargs: object) -> MebenchError:
    with pytest.raises(MebenchError) as info:
        load_task_file(path, **kwargs)  # type: ignore[arg-type]
    return info.value


# The shipped task files -----------------------------------------------------------------------


def test_shipped_tasks_are_listed_without_the_base() -> None:
    index = TaskIndex([builtin_task_dir()])
    assert index.names() == ["imgedit", "motionedit", "motionedit-synthetic"]
    assert (builtin_task_dir() / "_motionedit_base.yaml").is_file()


def test_motionedit_fields() -> None:
    task = TaskIndex([builtin_task_dir()]).load("motionedit")
    assert task.task == "motionedit"
    assert task.path == builtin_task_dir() / "motionedit.yaml"
    assert (task.dataset.source, task.dataset.path, task.dataset.split) == (
        "hub", "elaine1wan/MotionEdit-Bench", "train")
    assert task.dataset.columns == ColumnMap(
        id="id", instruction="prompt", source="input_image", target="target_image", category=None)
    assert task.generation.seed == 0 and task.generation.resolution is None
    assert task.flow.name == "unimatch"
    assert [m.name for m in task.metrics] == ["mas", "motion_reward"]
    assert "1,015" in task.description and "6 categories" in task.description
    assert "UniMatch" in (builtin_task_dir() / "motionedit.yaml").read_text()


def test_motionedit_synthetic_fields() -> None:
    task = TaskIndex([builtin_task_dir()]).load("motionedit-synthetic")
    assert (task.dataset.source, task.dataset.path) == ("builtin", "motionedit-synthetic")
    assert dict(task.dataset.options) == {"num_samples": 60, "size": 256}
    assert [m.name for m in task.metrics] == ["mas", "motion_reward", "flow_epe"]
    assert task.dataset.columns.source == "input_image"  # from the base
    assert "embedded default" in task.description


def test_to_dict_is_plain_json_without_path() -> None:
    task = load_task_file(builtin_task_dir() / "motionedit-synthetic.yaml")
    plain = task.to_dict()
    assert "path" not in plain
    assert plain["dataset"]["path"] == "motionedit-synthetic"  # only TaskConfig.path is left out
    assert plain["dataset"]["options"] == {"num_samples": 60, "size": 256}
    assert plain["metrics"][2] == {"name": "flow_epe", "args": {}}
    assert json.loads(json.dumps(plain)) == plain


def test_content_hash_is_canonical_json_sha256() -> None:
    task = load_task_file(builtin_task_dir() / "motionedit.yaml")
    text = json.dumps(task.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert task.content_hash() == hashlib.sha256(text.encode()).hexdigest()
    again = load_task_file(builtin_task_dir() / "motionedit.yaml")
    assert task.content_hash() == again.content_hash()


def test_content_hash_same_without_include_and_different_on_change(tmp_path: Path) -> None:
    flat = """\
    # the same task as the shipped one, written out, keys in another order
    version: 1
    task: motionedit-synthetic
    description: >-
      The embedded default: synthetic motion edits made by the built-in generator
      'motionedit-synthetic'; deterministic, with exact ground-truth flow, and runs on a CPU in
      seconds.
    metrics: [mas, {name: motion_reward}, flow_epe]
    flow: {name: opencv-dis, args: {}}
    generation: {seed: 0}
    dataset:
      options: {size: 256, num_samples: 60}
      path: motionedit-synthetic
      source: builtin
      columns: {category: null, target: target_image, source: input_image, instruction: prompt}
    """
    shipped = load_task_file(builtin_task_dir() / "motionedit-synthetic.yaml")
    same = load_task_file(write(tmp_path, "flat.yaml", flat))
    assert same.content_hash() == shipped.content_hash()
    assert same == shipped  # `path` does not take part in equality
    changed_text = flat.replace("size: 256", "size: 128")
    changed = load_task_file(write(tmp_path, "changed.yaml", changed_text))
    assert changed.content_hash() != shipped.content_hash()


# Errors: file, line and field -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "message", "hint"),
    [
        pytest.param(MINIMAL + "datset: {}\n", "t.yaml:6: datset", "unknown key 'datset'",
                     "did you mean 'dataset'?", id="unknown-top"),
        pytest.param(MINIMAL + "  colums: {}\n", "t.yaml:6: dataset.colums", "unknown key",
                     "did you mean 'columns'?", id="unknown-nested"),
        pytest.param(MINIMAL + "  columns:\n    id: key\n    sorce: img\n",
                     "t.yaml:8: dataset.columns.sorce", "unknown key 'sorce'",
                     "did you mean 'source'?", id="unknown-deep"),
        pytest.param(MINIMAL + "judge: {name: gemini, modl: x}\n", "t.yaml:6: judge.modl",
                     "unknown key", "did you mean 'model'?", id="unknown-judge"),
        pytest.param(MINIMAL + "generation:\n  seed: true\n", "t.yaml:7: generation.seed",
                     "expected a non-negative integer, got true (a boolean)", None,
                     id="bool-for-int"),
        pytest.param(MINIMAL + "generation: {resolution: 0}\n", "t.yaml:6: generation.resolution",
                     "expected an integer >= 1 or null, got 0", None, id="resolution-zero"),
        pytest.param(MINIMAL + "flow:\n  args: [1, 2]\n", "t.yaml:7: flow.args",
                     "got a list", None, id="list-for-mapping"),
        pytest.param(MINIMAL + "generation: [1]\n", "t.yaml:6: generation",
                     "expected a mapping, got a list", None, id="list-for-section"),
        pytest.param(MINIMAL.replace("source: hub", "source: s3"), "t.yaml:4: dataset.source",
                     "expected one of hub, parquet, folder, builtin, got 's3' (a string)", None,
                     id="bad-literal"),
        pytest.param(MINIMAL.replace("version: 1", "version: false"), "t.yaml:2: version",
                     "got false (a boolean)", None, id="bool-version"),
        pytest.param(MINIMAL.replace("task: t", "task: Motion Edit"), "t.yaml:1: task",
                     "expected a task name matching", None, id="bad-task-name"),
        pytest.param(MINIMAL.replace("  path: org/data\n", ""), "t.yaml:3: dataset.path",
                     "missing required field 'path' in section 'dataset'", None,
                     id="missing-nested"),
        pytest.param("# a comment\n" + MINIMAL.replace("version: 1\n", ""), "t.yaml:2: version",
                     "missing required field 'version'", None, id="missing-top"),
        pytest.param(MINIMAL + "metrics:\n  - mas\n  - {args: {alpha: 0.7}}\n",
                     "t.yaml:8: metrics[1].name", "missing required field 'name'", None,
                     id="metric-missing-name"),
        pytest.param(MINIMAL + "metrics: [mas, 3]\n", "t.yaml:6: metrics[1]",
                     "expected a metric name or a mapping", None, id="metric-int"),
        pytest.param(MINIMAL + "metrics:\n  - mas\n  - name: mas\n", "t.yaml:8: metrics[1]",
                     "metric 'mas' is listed twice", None, id="metric-twice"),
        pytest.param(MINIMAL + "metrics: []\n", "t.yaml:6: metrics", "non-empty list", None,
                     id="metrics-empty"),
        pytest.param(MINIMAL.replace("source: hub", "source: builtin") + "  revision: main\n",
                     "t.yaml:6: dataset.revision", "'revision' applies only to source 'hub'",
                     None, id="revision-not-hub"),
        pytest.param(MINIMAL + "  options: {n: 1}\n", "t.yaml:6: dataset.options",
                     "'options' applies only to source 'builtin'", None, id="options-not-builtin"),
        pytest.param(MINIMAL + "  path: again\n", "t.yaml:6", "duplicate key 'path'", None,
                     id="duplicate-key"),
        pytest.param(MINIMAL + "flow: {args: {when: 2024-01-01}}\n", "t.yaml:6",
                     "unsupported YAML tag '!!timestamp'", "quote the value", id="date"),
        pytest.param(MINIMAL + "x: &a [*a]\n", "t.yaml:6", "alias", None, id="recursive-alias"),
        pytest.param(MINIMAL + "flow:\n  <<: {name: raft}\n", "t.yaml:7", "merge keys",
                     "use 'include:'", id="merge-key"),
        pytest.param(MINIMAL + "dataset: {source: hub, path: [a\n", "t.yaml:7",
                     "invalid YAML", None, id="malformed"),
        pytest.param("task: t\n  version: 1\n", "t.yaml:2", "invalid YAML", None,
                     id="malformed-indent"),
        pytest.param("", "t.yaml:1", "empty", None, id="empty"),
        pytest.param("# nothing\n", "t.yaml:1", "empty", None, id="only-comment"),
        pytest.param("- task: t\n", "t.yaml:1", "top level must be a mapping", None,
                     id="top-list"),
    ],
)
def test_errors_name_file_line_and_field(
    tmp_path: Path, text: str, where: str, message: str, hint: str | None
) -> None:
    error = load_error(write(tmp_path, "t.yaml", text))
    assert error.where == where
    assert message in error.message
    if hint is not None:
        assert error.hint is not None and hint in error.hint
    assert str(error).startswith(where + ": ")


def test_malformed_yaml_reports_the_parser_line_and_column(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "t.yaml", MINIMAL + "generation: {seed: 1\n"))
    assert error.where == "t.yaml:7"
    assert "(line 7, column 1)" in error.message


def test_python_tags_are_rejected_and_never_run(tmp_path: Path) -> None:
    text = MINIMAL + "flow:\n  args: !!python/object/apply:os.system ['touch pwned']\n"
    error = load_error(write(tmp_path, "t.yaml", text))
    assert error.where == "t.yaml:7"
    assert "unsupported YAML tag '!!python/object/apply:os.system'" in error.message
    scalar = MINIMAL + "description: !!python/name:os.system ''\n"
    assert "unsupported YAML tag" in load_error(write(tmp_path, "s.yaml", scalar)).message
    assert not (tmp_path / "pwned").exists()


def test_an_error_in_a_base_points_at_the_base(tmp_path: Path) -> None:
    write(tmp_path, "_base.yaml", "# base\ngeneration:\n  seed: -1\n")
    task = write(tmp_path, "t.yaml", "include: _base.yaml\n" + MINIMAL)
    error = load_error(task)
    assert error.where == "_base.yaml:3: generation.seed"
    assert "got -1 (an integer)" in error.message


def test_an_override_error_points_at_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "_base.yaml", "generation:\n  seed: 3\n")
    task = write(tmp_path, "t.yaml", MINIMAL + "include: [_base.yaml]\ngeneration: {seed: x}\n")
    assert load_error(task).where == "t.yaml:7: generation.seed"


def test_a_missing_field_of_a_merged_section_points_at_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "_base.yaml", "dataset:\n  split: test\n")
    task = write(tmp_path, "t.yaml", "include: _base.yaml\ntask: t\nversion: 1\n"
                 "dataset:\n  source: hub\n")
    assert load_error(task).where == "t.yaml:4: dataset.path"
    only_base = write(tmp_path, "u.yaml", "include: _base.yaml\ntask: t\nversion: 1\n")
    assert load_error(only_base).where == "_base.yaml:1: dataset.source"


def test_include_cycle_names_the_chain(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "include: b.yaml\n" + MINIMAL)
    write(tmp_path, "b.yaml", "# b\ninclude: c.yaml\n")
    write(tmp_path, "c.yaml", "include: b.yaml\n")
    error = load_error(tmp_path / "a.yaml")
    assert error.message == "include cycle: a.yaml -> b.yaml -> c.yaml -> b.yaml"
    assert error.where == "c.yaml:1: include"


def test_include_of_a_missing_file(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, "t.yaml", MINIMAL + "include:\n  - _nope.yaml\n"),
                       search_dirs=[])
    assert error.where == "t.yaml:7: include"
    assert "included file '_nope.yaml' not found" in error.message
    bad = load_error(write(tmp_path, "u.yaml", MINIMAL + "include: 3\n"))
    assert bad.where == "u.yaml:6: include" and "got 3 (an integer)" in bad.message


def test_include_merges_mappings_and_replaces_lists(tmp_path: Path) -> None:
    write(tmp_path, "bases/_one.yaml", """\
        dataset: {columns: {id: key, category: cat}, split: test}
        flow: {name: raft, args: {iters: 12, small: true}}
        metrics: [mas, motion_reward]
        judge: {name: gemini}
        """)
    write(tmp_path, "bases/_two.yaml", "flow: {args: {iters: 20}}\n")
    task = load_task_file(write(tmp_path, "t.yaml", MINIMAL + textwrap.dedent("""\
        include: [bases/_one.yaml, bases/_two.yaml]
        metrics: [flow_epe]
        judge: null
        """)))
    assert task.dataset.columns == ColumnMap(id="key", category="cat")
    assert (task.dataset.split, task.dataset.path) == ("test", "org/data")
    assert task.flow.name == "raft" and dict(task.flow.args) == {"iters": 20, "small": True}
    assert task.metrics == (MetricConfig("flow_epe"),)
    assert task.judge is None


def test_include_by_name_from_the_search_dirs(tmp_path: Path) -> None:
    text = "task: mine\nversion: v2\ninclude: _motionedit_base\ndataset: {source: folder, path: d}"
    task = load_task_file(write(tmp_path, "elsewhere/mine.yaml", text))  # default: built-in dir
    assert task.version == "v2" and task.dataset.columns.source == "input_image"
    write(tmp_path, "lib/_motionedit_base.yaml", "generation: {seed: 7}\n")
    local = load_task_file(tmp_path / "elsewhere/mine.yaml", search_dirs=[tmp_path / "lib"])
    assert local.generation.seed == 7


# Values: metrics, immutability ----------------------------------------------------------------


def test_metrics_as_names_and_as_mappings(tmp_path: Path) -> None:
    task = load_task_file(write(tmp_path, "t.yaml", MINIMAL + textwrap.dedent("""\
        metrics:
          - mas
          - {name: motion_reward, args: {alpha: 0.7, levels: [0, 1]}}
        judge: {name: gemini, model: gemini-2.5-pro, prompt: action-v1}
        """)))
    assert task.metrics[0] == MetricConfig("mas")
    assert task.metrics[1].name == "motion_reward"
    assert task.metrics[1].args == {"alpha": 0.7, "levels": (0, 1)}
    assert task.judge is not None and task.judge.prompt == "action-v1"


def test_configs_are_frozen_and_read_only(tmp_path: Path) -> None:
    task = load_task_file(write(tmp_path, "t.yaml", MINIMAL + "flow: {args: {deep: {x: [1]}}}\n"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.task = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.dataset.columns.id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        task.flow.args["new"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        task.flow.args["deep"]["x"] = 2
    assert task.flow.args["deep"]["x"] == (1,)
    assert isinstance(task.metrics, tuple)


def test_dicts_given_in_python_are_frozen_too() -> None:
    metric = MetricConfig("mas", args={"alpha": 0.5, "ks": [1, 2]})
    with pytest.raises(TypeError):
        metric.args["alpha"] = 1  # type: ignore[index]
    assert metric.args["ks"] == (1, 2)
    assert TaskConfig.__dataclass_params__.frozen  # type: ignore[attr-defined]


# Discovery ------------------------------------------------------------------------------------


def test_index_names_come_from_the_task_field(tmp_path: Path) -> None:
    write(tmp_path, "tasks/file-name.yaml", MINIMAL.replace("task: t", "task: real-name"))
    write(tmp_path, "tasks/other.yml", MINIMAL.replace("task: t", "task: other"))
    write(tmp_path, "tasks/_base.yaml", "task: base\n")
    write(tmp_path, "tasks/notes.txt", "task: no\n")
    index = TaskIndex([tmp_path / "tasks"])
    assert index.names() == ["other", "real-name"]
    assert index.path_of("real-name") == tmp_path / "tasks/file-name.yaml"
    assert index.load("other").path == tmp_path / "tasks/other.yml"
    assert index.load(str(tmp_path / "tasks/file-name.yaml")).task == "real-name"


def test_index_unknown_name_has_did_you_mean(tmp_path: Path) -> None:
    write(tmp_path, "tasks/a.yaml", MINIMAL.replace("task: t", "task: motionedit"))
    with pytest.raises(MebenchError) as info:
        TaskIndex([tmp_path / "tasks"]).path_of("motionedt")
    assert info.value.message == "unknown task 'motionedt'"
    assert info.value.hint == "did you mean 'motionedit'? known: motionedit"


def test_index_duplicate_names_across_dirs_name_both_files(tmp_path: Path) -> None:
    write(tmp_path, "one/a.yaml", MINIMAL)
    write(tmp_path, "two/b.yaml", "# b\n" + MINIMAL)
    with pytest.raises(MebenchError) as info:
        TaskIndex([tmp_path / "one", tmp_path / "two"])
    assert info.value.where == "two/b.yaml:2: task"
    assert "task 't' is defined twice: in one/a.yaml:1" in info.value.message


def test_index_rejects_a_task_file_without_a_name(tmp_path: Path) -> None:
    write(tmp_path, "tasks/a.yaml", "version: 1\n")
    with pytest.raises(MebenchError) as info:
        TaskIndex([tmp_path / "tasks"])
    assert info.value.where == "tasks/a.yaml:1: task"
    with pytest.raises(MebenchError, match="does not exist"):
        TaskIndex([tmp_path / "missing"])


def test_index_includes_bases_from_its_dirs(tmp_path: Path) -> None:
    write(tmp_path, "bases/_shared.yaml", "generation: {seed: 5}\n")
    write(tmp_path, "tasks/a.yaml", MINIMAL + "include: _shared\n")
    task = TaskIndex([tmp_path / "tasks", tmp_path / "bases"]).load("t")
    assert task.generation.seed == 5


# validate_paths -------------------------------------------------------------------------------


def test_validate_paths_collects_every_error(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", MINIMAL)
    bad_type = write(tmp_path, "bad_type.yaml", MINIMAL + "generation: {seed: 1.5}\n")
    bad_yaml = write(tmp_path, "bad_yaml.yaml", "task: [\n")
    base = write(tmp_path, "_base.yaml", "flow: {name: raft}\n")
    bad_base = write(tmp_path, "_bad.yaml", "flow: {nme: raft}\n")
    results = validate_paths([good, bad_type, bad_yaml, tmp_path / "missing.yaml", base, bad_base])
    assert [path for path, _ in results] == [
        good, bad_type, bad_yaml, tmp_path / "missing.yaml", base, bad_base]
    outcome = [result for _, result in results]
    assert isinstance(outcome[0], TaskConfig)
    assert isinstance(outcome[1], MebenchError)
    assert outcome[1].where == "bad_type.yaml:6: generation.seed"
    assert isinstance(outcome[2], MebenchError) and outcome[2].where == "bad_yaml.yaml:2"
    assert isinstance(outcome[3], MebenchError) and "not found" in outcome[3].message
    assert outcome[4] is None  # a valid include-only base
    assert isinstance(outcome[5], MebenchError) and outcome[5].where == "_bad.yaml:1: flow.nme"


def test_validate_paths_expands_folders_without_bases() -> None:
    results = validate_paths([builtin_task_dir()])
    assert [path.name for path, _ in results] == [
        "imgedit.yaml", "motionedit-synthetic.yaml", "motionedit.yaml"]
    assert all(isinstance(result, TaskConfig) for _, result in results)


def test_import_is_light() -> None:
    code = ("import sys, mebench.taskfile; "
            "print(sorted(m for m in ('torch', 'numpy', 'PIL', 'datasets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
