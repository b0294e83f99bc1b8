"""The service follows its atlas folder: atlases published, rebuilt, removed or copied in by hand
while it runs (in-process app; tests/integration/backend/test_live_atlas_folder.py runs the same with
real processes and the real precompute job)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.services.container import Services
from qkatlas.atlas import Atlas, AtlasReplaced, AtlasWriter
from qkatlas.atlas.contract import read_manifest
from qkatlas.conventions import Basis, Sign
from tests.helpers.atlases import TINY_OVERRIDES, TINY_VIT, build_atlas
from tests.helpers.backend import AppFactory, wait_for

MODE = "layers/1/heads/2/modes/0"


@pytest.fixture(scope="module")
def tiny_builds(tmp_path_factory: pytest.TempPathFactory, photo_dir: Path) -> tuple[Path, Path]:
    """Two builds of the same tiny model id (so the same slug) with other random weights."""
    builds = []
    for seed in (0, 1):
        root = tmp_path_factory.mktemp(f"tiny-seed{seed}")
        args = ("--random-init", "--seed", str(seed), "--top-k", "3", "--batch-size", "5")
        builds.append(build_atlas(root, TINY_VIT, photo_dir, *args, overrides=TINY_OVERRIDES))
    old, new = builds
    assert old.name == new.name
    return old, new


def publish(source: Path, root: Path) -> Path:
    """Publish a copy of the atlas ``source`` into ``root`` the way the precompute job does."""
    partial = root / ".partial" / source.name
    shutil.copytree(source, partial)
    manifest = read_manifest(json.loads((partial / "manifest.json").read_text()))
    return AtlasWriter(partial).publish(manifest, root / source.name)


def services_of(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def served(client: TestClient) -> dict[str, str]:
    """slug → revision of every atlas ``GET /api/models`` lists."""
    return {model["slug"]: model["revision"] for model in client.get("/api/models").json()}


def test_atlases_published_and_removed_while_it_runs_are_picked_up(
    make_client: AppFactory, tiny_builds: tuple[Path, Path], tmp_path: Path
) -> None:
    root = tmp_path / "atlases"
    root.mkdir()
    client = make_client(atlas_dir=root, atlas_poll_s=0.05)
    assert served(client) == {}
    path = publish(tiny_builds[0], root)
    slug = Atlas.open(path).slug
    wait_for(lambda: slug in served(client))
    body = client.get(f"/api/models/{slug}/{MODE}").json()
    assert body["top_images"] and client.get(body["top_images"][0]["overlay_url"]).status_code == 200
    shutil.rmtree(path)
    wait_for(lambda: slug not in served(client))
    assert client.get(f"/api/models/{slug}/{MODE}").status_code == 404


def test_a_rebuilt_atlas_replaces_the_old_one_and_its_caches(
    make_client: AppFactory, tiny_builds: tuple[Path, Path], tmp_path: Path
) -> None:
    old_build, new_build = tiny_builds
    root = tmp_path / "atlases"
    root.mkdir()
    publish(old_build, root)
    old, new = Atlas.open(old_build), Atlas.open(new_build)
    assert old.revision != new.revision
    # Refreshed only when told, so that the moment of the swap is the test's.
    client = make_client(atlas_dir=root, atlas_poll_s=0)
    other = make_client(atlas_dir=root, atlas_poll_s=0)
    # What a service that only ever saw the new atlas answers: the reference for "new".
    reference = make_client(atlas_dir=new_build.parent, atlas_poll_s=0)
    mode_url = f"/api/models/{old.slug}/{MODE}"
    overlay_url = f"{mode_url}/top/0/overlay.png?blend=0.6"
    index = old.top_images(Basis.faithful, 1, 2, 0, Sign.pos)[0][0]
    image_url = f"/api/images/{old.slug}~{index}"

    before = client.get(mode_url).json()
    assert [t["dataset_index"] for t in before["top_images"]] == [
        i for i, _ in old.top_images(Basis.faithful, 1, 2, 0, Sign.pos)
    ]
    old_overlay = client.get(overlay_url).content  # now in the cache
    pinned_overlay = before["top_images"][0]["overlay_url"]
    assert f"v={old.revision}" in pinned_overlay and f"v={old.revision}" in before["top_images"][0]["thumbnail_url"]

    publish(new_build, root)
    # Until the next refresh, requests resolve the old atlas, as those already running when it was
    # swapped: they get the old atlas's arrays and cached results...
    assert client.get(mode_url).json() == before
    assert client.get(overlay_url).content == old_overlay
    # ...and one that needs a file deleted with it is served by the atlas there now, never a mix of both.
    uncached = overlay_url.replace("blend=0.6", "blend=0.7")
    assert client.get(uncached).content == reference.get(uncached).content
    assert services_of(other).atlases.get(old.slug).revision == old.revision  # type: ignore[union-attr]
    assert other.get(image_url).content == reference.get(image_url).content
    new_overlay = reference.get(overlay_url).content
    assert new_overlay != old_overlay
    services_of(client).atlases.refresh()
    assert served(client) == {old.slug: new.revision}
    assert client.get(mode_url).json() == reference.get(mode_url).json()
    assert client.get(overlay_url).content == new_overlay
    # An address pinned to the old build says so instead of answering with the new one.
    stale = client.get(pinned_overlay)
    assert stale.status_code == 404 and "rebuilt" in stale.json()["detail"]
    stale_image = client.get(before["top_images"][0]["thumbnail_url"])
    assert stale_image.status_code == 404 and "rebuilt" in stale_image.json()["detail"]
    fresh = client.get(client.get(mode_url).json()["top_images"][0]["overlay_url"])
    assert fresh.status_code == 200 and "immutable" in fresh.headers["cache-control"]


def test_upload_analysis_uses_the_rebuilt_model(
    make_client: AppFactory, tiny_builds: tuple[Path, Path], tmp_path: Path, photo_dir: Path
) -> None:
    old_build, new_build = tiny_builds
    root = tmp_path / "atlases"
    root.mkdir()
    publish(old_build, root)
    slug = Atlas.open(old_build).slug
    client = make_client(atlas_dir=root, atlas_poll_s=0)
    reference = make_client(atlas_dir=new_build.parent, atlas_poll_s=0)
    photo = next(p for p in sorted(photo_dir.iterdir()) if p.suffix == ".jpg").read_bytes()

    def ranking(app: TestClient) -> tuple[dict[str, object], bytes]:
        upload = app.post("/api/uploads", files={"file": ("photo.jpg", photo, "image/jpeg")}).json()["id"]
        # The whole model first: its cached scores must be those of the atlas served now on their own.
        whole_model = app.get(f"/api/uploads/{upload}/models/{slug}/modes").json()
        body = app.get(f"/api/uploads/{upload}/models/{slug}/layers/1/heads/2").json()
        overlay = app.get(f"/api/uploads/{upload}/models/{slug}/layers/1/heads/2/modes/0/overlay.png?blend=0")
        ranking = {key: body[key] for key in ("modes", "key_salience", "revision")}
        return {**ranking, "whole_model": whole_model["modes"]}, overlay.content

    old_ranking, old_overlay = ranking(client)
    publish(new_build, root)
    services_of(client).atlases.refresh()
    new_ranking, new_overlay = ranking(client)
    expected, expected_overlay = ranking(reference)
    assert new_ranking == expected and new_overlay == expected_overlay
    assert new_ranking != old_ranking and new_overlay != old_overlay
    assert new_ranking["revision"] == Atlas.open(new_build).revision


def test_the_model_of_a_removed_or_rebuilt_atlas_is_released(
    make_client: AppFactory, tiny_builds: tuple[Path, Path], tmp_path: Path, photo_dir: Path
) -> None:
    old_build, new_build = tiny_builds
    root = tmp_path / "atlases"
    root.mkdir()
    path = publish(old_build, root)
    old = Atlas.open(path)
    client = make_client(atlas_dir=root, atlas_poll_s=0)
    analyzers = services_of(client).analyzers
    photo = next(p for p in sorted(photo_dir.iterdir()) if p.suffix == ".jpg").read_bytes()
    upload = client.post("/api/uploads", files={"file": ("photo.jpg", photo, "image/jpeg")}).json()["id"]

    def analyse() -> None:
        assert client.get(f"/api/uploads/{upload}/models/{old.slug}/layers/0/heads/0").status_code == 200

    analyse()
    assert analyzers.loaded() == {old.slug: old.revision}
    publish(new_build, root)
    services_of(client).atlases.refresh()
    assert analyzers.loaded() == {}, "the replaced atlas's model is released before the new one is needed"
    analyse()
    new_revision = Atlas.open(new_build).revision
    assert analyzers.loaded() == {old.slug: new_revision}
    shutil.rmtree(path)
    services_of(client).atlases.refresh()
    assert served(client) == {}
    assert analyzers.loaded() == {}, "a removed atlas's model is released"


def test_a_half_copied_atlas_is_reported_then_served_once_complete(
    make_client: AppFactory, tiny_builds: tuple[Path, Path], atlases: dict[str, Atlas], tmp_path: Path
) -> None:
    root = tmp_path / "atlases"
    root.mkdir()
    planted = atlases["planted"]
    shutil.copytree(planted.path, root / planted.path.name)
    source = tiny_builds[0]
    copy = root / source.name
    # Copied by hand in the wrong order: everything but the maps and the thumbnails.
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("maps", "thumbs"))
    client = make_client(atlas_dir=root, atlas_poll_s=0.05)
    health = client.get("/api/health").json()
    assert health["status"] == "degraded" and health["atlases"] == [planted.slug]
    (failure,) = health["failed_atlases"]
    assert failure["directory"] == source.name and "maps/query.npy" in failure["reason"]
    assert client.get(f"/api/models/{planted.slug}/layers/0/heads/0/modes/0").status_code == 200

    shutil.copytree(source / "maps", copy / "maps")
    wait_for(lambda: "thumbnails missing" in str(client.get("/api/health").json()["failed_atlases"]))
    shutil.copytree(source / "thumbs", copy / "thumbs")
    wait_for(lambda: client.get("/api/health").json()["status"] == "ok")
    assert sorted(served(client)) == sorted([planted.slug, Atlas.open(source).slug])


def test_an_open_atlas_reads_only_the_directory_it_opened(tiny_builds: tuple[Path, Path], tmp_path: Path) -> None:
    old_build, new_build = tiny_builds
    path = publish(old_build, tmp_path)
    opened = Atlas.open(path)
    index = next(iter(opened.top_images(Basis.faithful, 0, 0, 0, Sign.pos)))[0]
    publish(new_build, tmp_path)
    # Its memory-mapped arrays outlive the deleted files; a thumbnail that went with them is an error
    # that names the cause, never the new atlas's file of the same name.
    expected = Atlas.open(old_build)
    for name in ("topk_indices", "topk_scores", "maps_query", "U"):
        assert np.array_equal(opened.arrays[name], expected.arrays[name], equal_nan=True)
    with pytest.raises(AtlasReplaced):
        opened.thumbnail(index)
    assert Atlas.open(path).revision == Atlas.open(new_build).revision
