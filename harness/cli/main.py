"""The ``mebench`` command line: a thin layer over the library.

Nothing here imports torch: the run-time modules are imported inside the commands that need them,
so ``mebench --help`` and ``mebench list`` start fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from mebench import __version__, distributed
from mebench.cli import compare_cmd, list_cmd, motion_stats_cmd, run_cmd, validate_cmd
from mebench.cli import agreement_cmd, pairs_cmd
from mebench.cli import download_cmd
from mebench.cli import grid_cmd
from mebench.cli import train_cmd
from mebench.errors import MebenchError
from mebench.plugin_manager import MebenchPluginManager, get_plugin_manager


class MebenchGroup(click.Group):
    """Turns a MebenchError from any command into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except MebenchError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)


def build_cli(pm: MebenchPluginManager) -> click.Group:
    """The command group with the built-in commands and those plugins add."""

    @click.group(cls=MebenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="mebench")
    @click.option("--plugins", "plugins", metavar="A,B",
                  help="Load only these third-party plugins (entry-point or distribution "
                  "names); also $MEBENCH_PLUGINS. $MEBENCH_DISABLE_PLUGIN_AUTOLOAD=1 loads none.")
    @click.pass_context
    def cli(ctx: click.Context, plugins: str | None) -> None:
        """mebench: evaluate image editors on motion-centric edits (MotionEdit-Bench, MAS)."""
        ctx.obj = pm

    for module in (list_cmd, validate_cmd, run_cmd, compare_cmd, motion_stats_cmd, agreement_cmd,
                   pairs_cmd, download_cmd, grid_cmd, train_cmd):
        module.register(cli)
    pm.hook.mebench_register_commands(cli=cli)
    return cli


def _prescan_plugins(args: Sequence[str]) -> list[str] | None:
    """``--plugins`` must be known before the commands plugins add can be built."""
    for i, arg in enumerate(args):
        if arg == "--plugins" and i + 1 < len(args):
            return [p.strip() for p in args[i + 1].split(",") if p.strip()]
        if arg.startswith("--plugins="):
            return [p.strip() for p in arg.split("=", 1)[1].split(",") if p.strip()]
    return None


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    pm = get_plugin_manager(allow=_prescan_plugins(args))
    # under torchrun / accelerate launch only rank 0 prints; the process group is left at exit
    with distributed.launched():
        build_cli(pm).main(args, prog_name="mebench", obj=pm)
