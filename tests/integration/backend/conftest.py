"""Service fixtures: apps over the session's real atlases, with the in-process cache or a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.core.config import Settings
from backend.main import create_app
from qkatlas.atlas import Atlas, find_atlases
from tests.helpers.backend import AppFactory


@pytest.fixture(scope="session")
def atlases(atlas_root: Path) -> dict[str, Atlas]:
    """The session's atlases by role: ``planted`` and ``tiny`` (random-init timm ViT)."""
    loaded, failures = find_atlases(atlas_root)
    assert not failures
    return {("planted" if a.model_slug == "planted" else "tiny"): a for a in loaded}


@pytest.fixture
def make_client(atlas_root: Path, tmp_path: Path) -> Iterator[AppFactory]:
    """``make_client(**settings)`` → a started ``TestClient`` (closed at teardown); its shared lists are kept
    in the test's own database unless ``lists_db`` says where."""
    clients: list[TestClient] = []
    lists_db = tmp_path / "lists.sqlite3"

    def factory(**overrides: Any) -> TestClient:
        settings = Settings(
            **{
                "atlas_dir": atlas_root,
                "redis_url": None,
                "frontend_dist": None,
                "device": "cpu",
                "lists_db": lists_db,
                **overrides,
            }
        )
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client()
