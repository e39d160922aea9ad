"""Session-scoped tiny pipelines, saved once with ``save_pretrained`` for every editor test."""

from __future__ import annotations


import pytest
from tiny_pipelines import TinyModels  # beside this file (pytest puts this folder on sys.path)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    return TinyModels(tmp_path_factory.mktemp("tiny_pipelines"))


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Every test here runs on one torch thread (the root conftest's ``one_torch_thread``)."""
