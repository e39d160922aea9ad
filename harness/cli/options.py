"""Option parsing shared by several commands."""

from __future__ import annotations

from typing import Any

import click
import yaml

from mebench.errors import MebenchError


def parse_kv(text: str | None, option: str) -> dict[str, Any]:
    """``k=v,k2=v2`` -> dict; values read as YAML scalars (``0.5`` a float, ``true`` a bool)."""
    result: dict[str, Any] = {}
    if not text:
        return result
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise MebenchError(f"{part!r} is not key=value", where=option,
                               hint="write e.g. key=value,other=2")
        key, value = part.split("=", 1)
        try:
            result[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            result[key.strip()] = value
    return result


def split_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise click.UsageError("give at least one name")
    return names


def task_index(pm: Any, include_paths: tuple[str, ...] = ()) -> Any:
    """Task folders in priority order: built-in, plugins', then ``--include-path`` ones."""
    from pathlib import Path

    from mebench.taskfile import TaskIndex, builtin_task_dir

    dirs = [builtin_task_dir(), *pm.task_dirs(), *(Path(p) for p in include_paths)]
    for d in dirs:
        if not d.is_dir():
            raise MebenchError(f"task folder {str(d)!r} does not exist", where="--include-path")
    return TaskIndex(dirs)


include_path_option = click.option(
    "--include-path", "include_paths", multiple=True, metavar="DIR",
    help="Another folder of YAML task files (repeatable).")
