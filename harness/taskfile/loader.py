"""Loading task files: YAML with line tracking, ``include:`` resolution, validation, discovery.

A file is read in four steps:

1. compose the YAML with the safe loader (no code runs: only plain mappings, lists, strings,
   numbers, booleans and null are accepted) into a tree of :class:`~.schema.Node`, each value
   carrying the file and line where it was written;
2. resolve ``include:`` (paths relative to the including file, else the name of a base file in
   the search folders), deep-merging each base under the including file;
3. check the merged tree against the schema, failing on the first error with
   ``FILE:LINE: FIELD.PATH`` pointing at the line that wrote the offending value;
4. build the frozen :class:`~mebench.taskfile.schema.TaskConfig`.

Only ``yaml`` and the standard library are imported here.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor

from mebench.errors import MebenchError, did_you_mean
from mebench.taskfile.schema import (
    TASK_NAME_PATTERN, Node, TaskConfig, build_task, describe, where,
)

_YAML_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_YAML_TAG + name for name in ("str", "int", "float", "bool", "null")}
_SUFFIXES = (".yaml", ".yml")


# 1. YAML to a located tree --------------------------------------------------------------------


def read_tree(path: Path, what: str = "task file",
              example: str = "a task file is a YAML mapping with at least 'task:'") -> Node:
    """The file's top-level mapping as a located tree; every YAML problem as a MebenchError.

    ``what`` names the kind of file in messages (recipes share this reader)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MebenchError(f"{what} not found", where=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MebenchError(f"cannot read {what}: {exc}", where=str(path)) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        column = f", column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "malformed YAML"
        raise MebenchError(
            f"invalid YAML: {problem} (line {line}{column})", where=where(path, line)
        ) from None
    except yaml.YAMLError as exc:
        raise MebenchError(f"invalid YAML: {exc}", where=str(path)) from None
    if root is None:
        raise MebenchError(f"the {what} is empty", where=where(path, 1), hint=example)
    tree = _convert(root, path, root.start_mark.line + 1, SafeConstructor(), set())
    if not isinstance(tree.value, dict):
        raise MebenchError(f"the top level must be a mapping of fields, got {describe(tree.value)}",
                           where=where(path, tree.line))
    return tree


def _convert(node: yaml.Node, file: Path, line: int, constructor: SafeConstructor,
             active: set[int]) -> Node:
    start = node.start_mark.line + 1
    tag = node.tag.replace(_YAML_TAG, "!!")
    if id(node) in active:
        raise MebenchError("a YAML alias refers to a value that contains it",
                           where=where(file, start))
    if isinstance(node, yaml.ScalarNode):
        if node.tag not in _SCALAR_TAGS:
            raise MebenchError(
                f"unsupported YAML tag {tag!r}: task files hold plain data only "
                "(strings, numbers, booleans, null, lists, mappings)",
                where=where(file, start), hint="quote the value to make it a string")
        return Node(constructor.construct_object(node), file, line)
    if node.tag not in (_YAML_TAG + "seq", _YAML_TAG + "map"):
        raise MebenchError(f"unsupported YAML tag {tag!r}: task files hold plain data only",
                           where=where(file, start))
    active.add(id(node))
    try:
        if isinstance(node, yaml.SequenceNode):
            items = [_convert(item, file, item.start_mark.line + 1, constructor, active)
                     for item in node.value]
            return Node(items, file, line)
        entries: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == _YAML_TAG + "merge":
                raise MebenchError("YAML merge keys ('<<') are not supported",
                                   where=where(file, key_line), hint="use 'include:' instead")
            key = _convert(key_node, file, key_line, constructor, active).value
            if not isinstance(key, str):
                raise MebenchError(f"keys must be strings, got {describe(key)}",
                                   where=where(file, key_line))
            if key in entries:
                raise MebenchError(f"duplicate key {key!r} (first written on line "
                                   f"{entries[key].line})", where=where(file, key_line))
            entries[key] = _convert(value_node, file, key_line, constructor, active)
        return Node(entries, file, line)
    finally:
        active.discard(id(node))


# 2. include: ----------------------------------------------------------------------------------


def _merge(base: Node, over: Node) -> Node:
    """``over`` on top of ``base``: mappings merge key by key, anything else replaces."""
    if not (isinstance(base.value, dict) and isinstance(over.value, dict)):
        return over
    merged = dict(base.value)
    for key, node in over.value.items():
        merged[key] = _merge(merged[key], node) if key in merged else node
    return Node(merged, over.file, over.line)


def _resolve(path: Path, chain: tuple[Path, ...], search_dirs: Sequence[Path]) -> Node:
    """The file's tree with its includes merged in (each base first, in order, then the file)."""
    tree = read_tree(path)
    entries = dict(tree.value)
    include = entries.pop("include", None)
    merged = Node({}, path, tree.line)
    for name, line in _include_names(include):
        target = _find_include(name, path, line, search_dirs)
        if target.resolve() in chain:
            names = " -> ".join(p.name for p in (*chain, target.resolve()))
            raise MebenchError(f"include cycle: {names}", where=where(path, line, "include"))
        merged = _merge(merged, _resolve(target, (*chain, target.resolve()), search_dirs))
    return _merge(merged, Node(entries, path, tree.line))


def _include_names(include: Node | None) -> Iterator[tuple[str, int]]:
    if include is None:
        return
    items = include.value if isinstance(include.value, list) else [include]
    for item in items:
        if not isinstance(item.value, str) or not item.value:
            raise MebenchError(
                f"expected a file name or a list of file names, got {describe(item.value)}",
                where=where(item.file, item.line, "include"))
        yield item.value, item.line


def _find_include(name: str, including: Path, line: int, search_dirs: Sequence[Path]) -> Path:
    candidates = [including.parent / name]
    for folder in search_dirs:
        candidates.append(Path(folder) / name)
        if not name.endswith(_SUFFIXES):
            candidates += [Path(folder) / (name + suffix) for suffix in _SUFFIXES]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MebenchError(
        f"included file {name!r} not found", where=where(including, line, "include"),
        hint="looked in " + ", ".join(str(c) for c in candidates))


# 3. public API --------------------------------------------------------------------------------


def builtin_task_dir() -> Path:
    """The folder of the task files shipped with mebench (the package ``mebench.tasks``)."""
    return Path(str(importlib.resources.files("mebench.tasks")))


def _default_dirs(search_dirs: Sequence[str | Path] | None) -> list[Path]:
    return [builtin_task_dir()] if search_dirs is None else [Path(d) for d in search_dirs]


def load_task_file(path: str | Path, *,
                   search_dirs: Sequence[str | Path] | None = None) -> TaskConfig:
    """Load, merge and validate one task file.

    ``search_dirs`` are where an ``include:`` that is not a path relative to the file is looked
    up by name (``None``: the built-in task folder). Raises :class:`MebenchError`.
    """
    path = Path(path)
    tree = _resolve(path, (path.resolve(),), _default_dirs(search_dirs))
    task = build_task(tree, partial=False)
    assert isinstance(task, TaskConfig)
    return dataclasses.replace(task, path=path)


def is_base_file(path: Path) -> bool:
    """Whether a file is an include-only base (its name starts with ``_``), not a task."""
    return path.name.startswith("_")


def validate_paths(
    paths: Sequence[str | Path], *, search_dirs: Sequence[str | Path] | None = None
) -> list[tuple[Path, TaskConfig | MebenchError | None]]:
    """Check every file (folders: their ``*.yaml``/``*.yml``), collecting errors, never raising.

    A task file gives its :class:`TaskConfig` or its error. An include-only base (``_`` name)
    named explicitly is checked as a fragment (known keys, types; no required fields) and gives
    ``None`` when it is fine; bases inside a named folder are checked through their tasks.
    """
    dirs = _default_dirs(search_dirs)
    results: list[tuple[Path, TaskConfig | MebenchError | None]] = []
    for path in _expand(paths):
        try:
            if is_base_file(path):
                build_task(_resolve(path, (path.resolve(),), dirs), partial=True)
                results.append((path, None))
            else:
                results.append((path, load_task_file(path, search_dirs=dirs)))
        except MebenchError as exc:
            results.append((path, exc))
    return results


def _expand(paths: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += [p for p in _yaml_files(path) if not is_base_file(p)]
        else:
            files.append(path)
    return files


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in _SUFFIXES and p.is_file())


class TaskIndex:
    """Task files found by name in search folders, given in priority order.

    A task's name is its own ``task:`` field (not the file name); ``_`` files are bases and not
    listed. The same name in two files (in one folder or across folders) is an error naming
    both: a later folder never silently shadows an earlier one. Indexing reads each file's YAML
    once, without validating it; :meth:`load` validates.
    """

    def __init__(self, dirs: Sequence[Path]) -> None:
        self.dirs: list[Path] = [Path(d) for d in dirs]
        self._paths: dict[str, tuple[Path, int]] = {}
        for folder in self.dirs:
            if not folder.is_dir():
                raise MebenchError("task folder does not exist", where=str(folder))
            for path in _yaml_files(folder):
                if not is_base_file(path):
                    self._add(path)

    def _add(self, path: Path) -> None:
        tree = read_tree(path)
        node = tree.value.get("task")
        if node is None:
            raise MebenchError(
                "a task file must name its task with 'task:'", where=where(path, tree.line, "task"),
                hint="files whose name starts with '_' are include-only bases")
        if not isinstance(node.value, str) or not re.fullmatch(TASK_NAME_PATTERN, node.value):
            raise MebenchError(f"expected a task name matching {TASK_NAME_PATTERN}, got "
                               f"{describe(node.value)}", where=where(path, node.line, "task"))
        if node.value in self._paths:
            first, first_line = self._paths[node.value]
            raise MebenchError(
                f"task {node.value!r} is defined twice: in {where(first, first_line)} and here",
                where=where(path, node.line, "task"),
                hint="rename one of them or drop one folder from the task search path")
        self._paths[node.value] = (path, node.line)

    def names(self) -> list[str]:
        """The task names, sorted."""
        return sorted(self._paths)

    def path_of(self, name: str) -> Path:
        """The file that defines task ``name``."""
        if name not in self._paths:
            raise MebenchError(f"unknown task {name!r}", hint=did_you_mean(name, self.names()))
        return self._paths[name][0]

    def load(self, name_or_path: str) -> TaskConfig:
        """Load a task by name, or a ``.yaml``/``.yml`` file by path; includes use these folders."""
        if name_or_path.endswith(_SUFFIXES) or Path(name_or_path).is_file():
            return load_task_file(name_or_path, search_dirs=self.dirs)
        return load_task_file(self.path_of(name_or_path), search_dirs=self.dirs)
