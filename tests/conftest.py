"""Shared fixtures: a fresh plugin manager per test and an isolated MEBENCH_HOME."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mebench.cli.main import build_cli
from mebench.plugin_manager import MebenchPluginManager, get_plugin_manager


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("mebench_home")
    monkeypatch.setenv("MEBENCH_HOME", str(home))
    monkeypatch.delenv("MEBENCH_PLUGINS", raising=False)
    monkeypatch.delenv("MEBENCH_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield home


@pytest.fixture
def pm() -> MebenchPluginManager:
    return get_plugin_manager()


@pytest.fixture
def invoke(pm: MebenchPluginManager):  # type: ignore[no-untyped-def]
    """Run the CLI in-process: ``invoke("run", "--task", ...)`` -> click Result."""

    def _invoke(*args: str) -> Result:
        runner = CliRunner()
        return runner.invoke(build_cli(pm), list(args), obj=pm, catch_exceptions=False)

    return _invoke
