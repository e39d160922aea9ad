"""``mebench validate``: check task files, reporting every error with its file and line."""

from __future__ import annotations

import click

from mebench.errors import MebenchError


def register(cli: click.Group) -> None:
    @cli.command("validate")
    @click.argument("paths", nargs=-1, required=True, type=click.Path())
    def validate(paths: tuple[str, ...]) -> None:
        """Check YAML task files (or folders of them); exit 2 if any is invalid."""
        from mebench.taskfile import validate_paths

        bad = 0
        for path, outcome in validate_paths(paths):
            if isinstance(outcome, MebenchError):
                bad += 1
                click.echo(f"invalid: {outcome}", err=True)
            elif outcome is None:
                click.echo(f"ok: {path} (an include-only base)")
            else:
                click.echo(f"ok: {path} (task {outcome.task!r}, version {outcome.version})")
        if bad:
            raise SystemExit(2)
