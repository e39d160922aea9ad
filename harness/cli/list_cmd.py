"""``mebench list``: every registered plugin name and task, without importing torch."""

from __future__ import annotations

import json
from typing import Any

import click

from mebench.cli.options import include_path_option, task_index
from mebench.plugin_manager import MebenchPluginManager

_SECTIONS = {"models": "model", "flows": "flow", "judges": "judge", "recipes": "recipe"}


def _plugin_rows(pm: MebenchPluginManager, kind: Any) -> list[dict[str, Any]]:
    return [
        {"kind": s.kind, "name": s.name, "description": s.description, "plugin": s.plugin,
         "distribution": s.distribution, "version": s.version}
        for s in sorted(pm.specs(kind).values(), key=lambda s: s.name)
    ]


def _task_rows(pm: MebenchPluginManager, include_paths: tuple[str, ...]) -> list[dict[str, Any]]:
    index = task_index(pm, include_paths)
    rows = []
    for name in index.names():
        path = index.path_of(name)
        rows.append({"kind": "task", "name": name, "path": str(path)})
    return rows


def register(cli: click.Group) -> None:
    @cli.command("list")
    @click.argument("what", required=False,
                    type=click.Choice([*_SECTIONS, "tasks", "plugins"]))
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
    @include_path_option
    @click.pass_obj
    def list_(pm: MebenchPluginManager, what: str | None, as_json: bool,
              include_paths: tuple[str, ...]) -> None:
        """List models, flows, judges, recipes and tasks (or one kind, or the loaded plugins)."""
        from tabulate import tabulate

        sections: dict[str, list[dict[str, Any]]] = {}
        for section, kind in _SECTIONS.items():
            if what in (None, section):
                sections[section] = _plugin_rows(pm, kind)
        if what in (None, "tasks"):
            sections["tasks"] = _task_rows(pm, include_paths)
        if what == "plugins":
            sections["plugins"] = [
                {"name": name, "distribution": dist, "version": version}
                for name, (dist, version) in sorted(pm.loaded_plugins().items())]
        failures = [f.__dict__ for f in pm.failures]
        if as_json:
            click.echo(json.dumps({**sections, "failed_plugins": failures}, indent=2))
            return
        for section, rows in sections.items():
            click.echo(f"{section}:")
            if not rows:
                click.echo("  (none)\n")
                continue
            if section == "tasks":
                table = [[r["name"], r["path"]] for r in rows]
                headers = ["name", "file"]
            elif section == "plugins":
                table = [[r["name"], r["distribution"], r["version"]] for r in rows]
                headers = ["plugin", "distribution", "version"]
            else:
                table = [[r["name"], r["description"], _provider(r)] for r in rows]
                headers = ["name", "description", "provided by"]
            click.echo(tabulate(table, headers=headers, tablefmt="simple") + "\n")
        for f in failures:
            dist = f["distribution"] or "unknown distribution"
            click.echo(f"failed plugin {f['plugin']!r} ({dist}): {f['error']}", err=True)


def _provider(row: dict[str, Any]) -> str:
    if row["distribution"] is None:
        return row["plugin"]
    return f"{row['distribution']} {row['version'] or ''}".strip()


