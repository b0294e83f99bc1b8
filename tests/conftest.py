"""Shared fixtures: natural photos from scikit-image, atlases built by the real precompute job, and a real Redis.

Every test is marked with its tier, the directory it lives in (``unit``, ``integration``, ``faults``, ``e2e``): so
``pytest -m unit`` selects exactly ``tests/unit``. A test outside the tier directories is an error.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from qkatlas.sample_photos import write_sample_photos
from tests.helpers.atlases import TINY_OVERRIDES, TINY_VIT, build_atlas
from tests.helpers.backend import RedisServer
from tests.helpers.clock import FakeClock

TIERS = ("unit", "integration", "faults", "e2e")
_TESTS = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.resolve()
        parts = path.relative_to(_TESTS).parts if path.is_relative_to(_TESTS) else ()
        tier = parts[0] if len(parts) > 1 else None
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: tests live in one of tests/{{{','.join(TIERS)}}}/")
        item.add_marker(tier)


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only by ``clock.advance(seconds)``: pass it as ``clock=`` to what reads the time."""
    return FakeClock()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        # CI installs it, so there a missing server is a failure, never a silent skip.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "redis-server is not installed (apt-get install redis-server)"
        )
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("photos")
    write_sample_photos(directory)
    return directory


@pytest.fixture(scope="session")
def planted_image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qkatlas.models.planted import generate_planted_images

    directory = tmp_path_factory.mktemp("planted-images")
    generate_planted_images(directory, n=24, seed=0)
    return directory


@pytest.fixture(scope="session")
def atlas_root(tmp_path_factory: pytest.TempPathFactory, photo_dir: Path, planted_image_dir: Path) -> Path:
    """One root holding a tiny random-init ViT atlas over the photos and a planted-model atlas, both with the
    attention moved by each mode (``--effects``)."""
    root = tmp_path_factory.mktemp("atlases")
    build_atlas(
        root,
        TINY_VIT,
        photo_dir,
        "--random-init",
        "--top-k",
        "4",
        "--batch-size",
        "5",
        "--effects",
        overrides=TINY_OVERRIDES,
    )
    build_atlas(root, "planted", planted_image_dir, "--top-k", "4", "--batch-size", "8", "--effects")
    return root
