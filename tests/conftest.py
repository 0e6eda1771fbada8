"""Shared fixtures: a fresh store folder per test, the real embedder, the real Chroma."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from testdata import SEED

from qa.config import Settings


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: browser or real-model tests (deselect with -m 'not slow')"
    )


@pytest.fixture(autouse=True)
def _fresh_chroma_cache():
    """Chroma caches clients per path; a reused tmp path must not see a stale one."""
    yield
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env().with_(
        data_dir=tmp_path / "data", seed_corpus=False, chroma_url=None
    )


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """One real `chroma run` server on 127.0.0.1 for the whole session."""
    from chroma_server import ChromaServer

    server = ChromaServer(tmp_path_factory.mktemp("chroma-server")).start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.slow)])
def kb(request, settings: Settings):
    """An empty knowledge base, once in a folder and once on a real Chroma server."""
    import uuid

    from qa.kb import KnowledgeBase

    if request.param == "server":
        server = request.getfixturevalue("chroma_server")
        settings = settings.with_(chroma_url=server.url, collection=f"t-{uuid.uuid4().hex[:12]}")
    return KnowledgeBase(settings)


@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory) -> Path:
    """A store holding the seed article, built once and copied per test that needs it."""
    from chromadb.api.client import SharedSystemClient

    from qa.kb import KnowledgeBase

    base = tmp_path_factory.mktemp("seeded") / "data"
    settings = Settings.from_env().with_(data_dir=base, seed_corpus=False, chroma_url=None)
    report = KnowledgeBase(settings).add(SEED)
    assert report.summary() == "added 1, unchanged 0, replaced 0, failed 0"
    SharedSystemClient.clear_system_cache()
    return base


@pytest.fixture
def seeded_kb(seeded_dir: Path, tmp_path: Path):
    from qa.kb import KnowledgeBase

    data = tmp_path / "data"
    shutil.copytree(seeded_dir, data)
    return KnowledgeBase(
        Settings.from_env().with_(data_dir=data, seed_corpus=False, chroma_url=None)
    )
