"""Session-scoped tiny pipelines, saved once with ``save_pretrained`` for every editor test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tiny_pipelines import TinyModels  # beside this file (pytest puts this folder on sys.path)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    return TinyModels(tmp_path_factory.mktemp("tiny_pipelines"))


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models run 10x faster on one thread than on two contended ones; restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
