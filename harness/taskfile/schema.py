"""The task file as frozen dataclasses: one meaning per field, no executable content.

A task file (YAML, see :mod:`mebench.taskfile.loader`) becomes a :class:`TaskConfig`. Every
value is immutable once built: mappings are :class:`types.MappingProxyType`, lists are tuples,
so a task cannot change under a running stage. :meth:`TaskConfig.content_hash` identifies what a
task *means* (not how its file is laid out), for ``run.json`` and for cache keys.

The second half checks a located YAML tree (:class:`Node`, built by the loader) against these
classes: one method per section, each error naming ``FILE:LINE: FIELD.PATH``. This module
imports only the standard library, so ``mebench list`` stays fast.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from mebench.errors import MebenchError, did_you_mean

DatasetSource = Literal["hub", "parquet", "folder", "builtin"]
DATASET_SOURCES: tuple[str, ...] = ("hub", "parquet", "folder", "builtin")
TASK_NAME_PATTERN = r"[a-z0-9][a-z0-9._-]*"
JUDGE_MODES: tuple[str, ...] = ("rubric", "expected-score")


def freeze(value: Any) -> Any:
    """A read-only deep copy: mappings become ``MappingProxyType``, lists and tuples tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def to_plain(value: Any) -> Any:
    """A JSON-able copy of a frozen value: dataclasses and mappings to dicts, tuples to lists.

    The ``path`` field of a :class:`TaskConfig` is left out: it says where a task came from, not
    what it is.
    """
    if isinstance(value, TaskConfig):
        return {f.name: to_plain(getattr(value, f.name)) for f in fields(value) if f.name != "path"}
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    return value


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


def _freeze_fields(obj: object, *names: str) -> None:
    for name in names:
        object.__setattr__(obj, name, freeze(getattr(obj, name)))


@dataclass(frozen=True)
class ColumnMap:
    """Names of the dataset columns that hold each part of a sample.

    ``target`` is ``None`` for a dataset without ground-truth images; ``category`` is ``None``
    where the dataset has no category column (MotionEdit-Bench has none).
    """

    id: str = "id"
    instruction: str = "prompt"
    source: str = "input_image"
    target: str | None = "target_image"
    category: str | None = None


@dataclass(frozen=True)
class DatasetConfig:
    """Where the samples come from.

    ``path`` is, by ``source``: a Hugging Face hub id (``hub``), a parquet file or a folder of
    parquet files (``parquet``), a folder of images and a metadata file (``folder``), or the
    name of a built-in generator (``builtin``). ``revision`` applies to ``hub`` only and
    ``options`` (generator options such as ``num_samples``) to ``builtin`` only.
    """

    source: DatasetSource
    path: str
    split: str = "train"
    revision: str | None = None
    columns: ColumnMap = field(default_factory=ColumnMap)
    options: Mapping[str, Any] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        _freeze_fields(self, "options")


@dataclass(frozen=True)
class GenerationConfig:
    """How edits are generated: the seed, and the resolution (``None``: the model's default)."""

    seed: int = 0
    resolution: int | None = None


@dataclass(frozen=True)
class FlowConfig:
    """The optical-flow estimator (a registered name) and its keyword arguments."""

    name: str = "opencv-dis"
    args: Mapping[str, Any] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        _freeze_fields(self, "args")


@dataclass(frozen=True)
class MetricConfig:
    """One metric (a registered name, checked by the runner) and its keyword arguments."""

    name: str
    args: Mapping[str, Any] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        _freeze_fields(self, "args")


@dataclass(frozen=True)
class JudgeConfig:
    """The MLLM judge: a registered name, the model it calls, the prompt id, extra arguments.

    ``mode`` is how it scores (``rubric``: fidelity, preservation, coherence 0-5 and Overall;
    ``expected-score``: MotionNFT's MLLM reward 0-1); ``reference`` whether the judge is shown
    the ground-truth target beside the source and the edited image.
    """

    name: str
    model: str | None = None
    prompt: str | None = None
    mode: str = "rubric"
    reference: bool = False
    args: Mapping[str, Any] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        _freeze_fields(self, "args")


def _default_metrics() -> tuple[MetricConfig, ...]:
    return (MetricConfig("mas"), MetricConfig("motion_reward"))


@dataclass(frozen=True, kw_only=True)
class TaskConfig:
    """A whole task. ``path`` records the file it was loaded from and is not part of its content."""

    task: str
    version: int | str
    description: str = ""
    dataset: DatasetConfig
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    metrics: tuple[MetricConfig, ...] = field(default_factory=_default_metrics)
    judge: JudgeConfig | None = None
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics))

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict of every field except ``path`` (for ``run.json``)."""
        plain: dict[str, Any] = to_plain(self)
        return plain

    def content_hash(self) -> str:
        """The sha256 hex digest of the canonical JSON of :meth:`to_dict` (sorted keys).

        Two files that mean the same task (one written out, one through ``include:``) give the
        same hash.
        """
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Checking a located YAML tree against the schema ---------------------------------------------


@dataclass(frozen=True)
class Node:
    """A YAML value (``dict[str, Node]``, ``list[Node]`` or a scalar) and where it was written."""

    value: Any
    file: Path
    line: int  # 1-based; for a mapping entry, the line of its key


def where(file: Path, line: int, field_path: str = "") -> str:
    """``FILE:LINE: FIELD.PATH`` (``FILE:LINE`` without a field), the file shown cwd-relative."""
    try:
        shown = str(file.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        shown = str(file)
    return f"{shown}:{line}: {field_path}" if field_path else f"{shown}:{line}"


def describe(value: Any) -> str:
    """A value for an error message: its YAML spelling and kind (``true (a boolean)``)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    spelled = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    return f"{spelled} ({kinds.get(type(value), type(value).__name__)})"


def build_task(tree: Node, *, partial: bool = False) -> TaskConfig | None:
    """The :class:`TaskConfig` of a merged tree; raises :class:`MebenchError` on the first problem.

    ``partial`` checks an include-only base: known keys and types, required fields not
    enforced, nothing built (returns ``None``).
    """
    return _Builder(partial).task(tree)


Check = Callable[[Node, str], Any]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fail(node: Node, path: str, expected: str) -> MebenchError:
    return MebenchError(f"expected {expected}, got {describe(node.value)}",
                        where=where(node.file, node.line, path))


def _string(node: Node, path: str, *, nullable: bool = False, empty: bool = False) -> str | None:
    if node.value is None and nullable:
        return None
    if not isinstance(node.value, str) or not (node.value or empty):
        raise _fail(node, path, ("a string" if empty else "a non-empty string")
                    + (" or null" if nullable else ""))
    return node.value


_optional_string: Check = functools.partial(_string, nullable=True)


def _integer(minimum: int, *, nullable: bool = False) -> Check:
    def check(node: Node, path: str) -> int | None:
        value = node.value
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            kind = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
            raise _fail(node, path, kind + (" or null" if nullable else ""))
        return value
    return check


def _boolean(node: Node, path: str) -> bool:
    if not isinstance(node.value, bool):
        raise _fail(node, path, "true or false")
    return node.value


def plain_node(node: Node) -> Any:
    """A tracked YAML node as plain dicts, lists and scalars."""
    if isinstance(node.value, dict):
        return {key: plain_node(child) for key, child in node.value.items()}
    if isinstance(node.value, list):
        return [plain_node(child) for child in node.value]
    return node.value


def args_mapping(node: Node, path: str) -> Mapping[str, Any]:
    """A plugin-arguments mapping, frozen (read-only); anything else is an error at the node."""
    if not isinstance(node.value, dict):
        raise _fail(node, path, "a mapping of argument names to values")
    frozen: Mapping[str, Any] = freeze(plain_node(node))
    return frozen


class _Builder:
    """The schema as one checking method per section; ``partial`` skips required fields."""

    def __init__(self, partial: bool) -> None:
        self.partial = partial

    def section(self, node: Node, path: str, spec: dict[str, tuple[Check, bool]]) -> dict[str, Any]:
        if not isinstance(node.value, dict):
            raise _fail(node, path or "(top level)", "a mapping")
        for key, child in node.value.items():
            if key not in spec:
                raise MebenchError(f"unknown key {key!r}", where=where(child.file, child.line,
                                   _join(path, key)), hint=did_you_mean(key, list(spec)))
        values: dict[str, Any] = {}
        for key, (check, required) in spec.items():
            if key in node.value:
                values[key] = check(node.value[key], _join(path, key))
            elif required and not self.partial:
                section = f"section {path!r}" if path else "the task file"
                raise MebenchError(f"missing required field {key!r} in {section}",
                                   where=where(node.file, node.line, _join(path, key)))
        return values

    def make(self, cls: type, values: dict[str, Any]) -> Any:
        return None if self.partial else cls(**values)

    def task(self, node: Node) -> TaskConfig | None:
        values = self.section(node, "", {
            "task": (self.task_name, True), "version": (self.version, True),
            "description": (lambda n, p: _string(n, p, empty=True), False),
            "dataset": (self.dataset, True), "generation": (self.generation, False),
            "flow": (self.flow, False), "metrics": (self.metrics, False),
            "judge": (self.judge, False), "include": (lambda n, p: None, False),
        })
        values.pop("include", None)  # resolved by the loader before checking
        if values.get("metrics") == () and values.get("judge") is None and not self.partial:
            raise MebenchError("expected a non-empty list of metrics: 'metrics: []' is only "
                               "for a task with a judge (a judged-only task)",
                               where=where(node.value["metrics"].file,
                                           node.value["metrics"].line, "metrics"),
                               hint="list a metric, or add a 'judge:' section")
        task: TaskConfig | None = self.make(TaskConfig, values)
        return task

    def task_name(self, node: Node, path: str) -> str:
        if not isinstance(node.value, str) or not re.fullmatch(TASK_NAME_PATTERN, node.value):
            raise _fail(node, path, f"a task name matching {TASK_NAME_PATTERN}")
        return node.value

    def version(self, node: Node, path: str) -> int | str:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
            raise _fail(node, path, "an integer or a non-empty string")
        return value

    def dataset(self, node: Node, path: str) -> DatasetConfig | None:
        values = self.section(node, path, {
            "source": (self.source, True), "path": (_string, True), "split": (_string, False),
            "revision": (_optional_string, False), "columns": (self.columns, False),
            "options": (args_mapping, False),
        })
        source = values.get("source")
        for key, only, present in (("revision", "hub", values.get("revision") is not None),
                                   ("options", "builtin", bool(values.get("options")))):
            if present and source is not None and source != only:
                child = node.value[key]
                raise MebenchError(f"{key!r} applies only to source {only!r}, not {source!r}",
                                   where=where(child.file, child.line, _join(path, key)))
        return self.make(DatasetConfig, values)

    def source(self, node: Node, path: str) -> str:
        if node.value not in DATASET_SOURCES or not isinstance(node.value, str):
            raise _fail(node, path, "one of " + ", ".join(DATASET_SOURCES))
        return node.value

    def columns(self, node: Node, path: str) -> ColumnMap | None:
        values = self.section(node, path, {
            "id": (_string, False), "instruction": (_string, False), "source": (_string, False),
            "target": (_optional_string, False), "category": (_optional_string, False),
        })
        return self.make(ColumnMap, values)

    def generation(self, node: Node, path: str) -> GenerationConfig | None:
        values = self.section(node, path, {
            "seed": (_integer(0), False), "resolution": (_integer(1, nullable=True), False),
        })
        return self.make(GenerationConfig, values)

    def flow(self, node: Node, path: str) -> FlowConfig | None:
        values = self.section(node, path, {"name": (_string, False), "args": (args_mapping, False)})
        return self.make(FlowConfig, values)

    def metrics(self, node: Node, path: str) -> tuple[MetricConfig, ...]:
        if not isinstance(node.value, list):
            raise _fail(node, path, "a list of metrics (names or {name, args}; [] for none)")
        metrics: list[MetricConfig] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(node.value):
            item_path = f"{path}[{index}]"
            if isinstance(item.value, str):
                name = _string(item, item_path)
                metric = None if self.partial else MetricConfig(item.value)
            elif isinstance(item.value, dict):
                values = self.section(item, item_path,
                                      {"name": (_string, True), "args": (args_mapping, False)})
                name, metric = values.get("name"), self.make(MetricConfig, values)
            else:
                raise _fail(item, item_path, "a metric name or a mapping {name, args}")
            if name in seen:
                raise MebenchError(f"metric {name!r} is listed twice (also as item {seen[name]})",
                                   where=where(item.file, item.line, item_path))
            if name is not None:
                seen[name] = index
            if metric is not None:
                metrics.append(metric)
        return tuple(metrics)

    def judge(self, node: Node, path: str) -> JudgeConfig | None:
        if node.value is None:
            return None
        values = self.section(node, path, {
            "name": (_string, True), "model": (_optional_string, False),
            "prompt": (_optional_string, False), "mode": (self.judge_mode, False),
            "reference": (_boolean, False), "args": (args_mapping, False),
        })
        return self.make(JudgeConfig, values)

    def judge_mode(self, node: Node, path: str) -> str:
        if not isinstance(node.value, str) or node.value not in JUDGE_MODES:
            raise _fail(node, path, "one of " + ", ".join(JUDGE_MODES))
        return node.value
