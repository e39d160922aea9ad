"""The judge plugins' tests share one fake judge API per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from servers.judge_api import FakeJudgeAPI


@pytest.fixture(scope="module")
def api() -> Iterator[FakeJudgeAPI]:
    with FakeJudgeAPI() as server:
        yield server
