"""One torch thread for these tests: on a shared 2-core machine, intra-op threads contend with
other processes and make small convolutions ten times slower."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Every test here runs on one torch thread (the root conftest's ``one_torch_thread``)."""
