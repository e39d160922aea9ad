"""Shared fixtures: a fresh plugin manager per test, an isolated MEBENCH_HOME, one torch thread."""

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


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One torch intra-op thread for a test, restored after: on a shared 2-core machine, threads
    contend with other processes and make tiny models ten times slower. Test modules ask for it
    with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
