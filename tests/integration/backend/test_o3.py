"""Odd-One-Out results through the API: ``precompute o3`` writes them, the service parses and caches them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import cast

import pytest
from fastapi.testclient import TestClient

from backend.schemas import O3Result
from qkatlas.atlas import Atlas
from qkatlas.atlas import format as fmt
from tests.helpers.backend import AppFactory, copy_atlases_with_o3


@pytest.fixture(scope="module")
def o3_root(tmp_path_factory: pytest.TempPathFactory, atlases: dict[str, Atlas]) -> Path:
    """The session's two atlases in a root of their own, the planted one with ``precompute o3`` results."""
    root = copy_atlases_with_o3(tmp_path_factory, atlases, "o3-atlases")
    assert (root / atlases["planted"].path.name / fmt.O3).is_file()
    return root


@pytest.fixture
def o3_client(make_client: AppFactory, o3_root: Path) -> TestClient:
    return make_client(atlas_dir=o3_root)


def test_models_say_which_have_o3(o3_client: TestClient, atlases: dict[str, Atlas]) -> None:
    listed = {m["slug"]: m["has_o3"] for m in o3_client.get("/api/models").json()}
    assert listed == {atlases["planted"].slug: True, atlases["tiny"].slug: False}
    assert o3_client.get(f"/api/models/{atlases['planted'].slug}").json()["has_o3"] is True


def test_o3_curves_of_the_planted_model(o3_client: TestClient, atlases: dict[str, Atlas], o3_root: Path) -> None:
    planted = atlases["planted"]
    response = o3_client.get(f"/api/models/{planted.slug}/o3")
    assert response.status_code == 200, response.text
    body = O3Result.model_validate(response.json())
    raw = json.loads((o3_root / planted.path.name / fmt.O3).read_text())
    assert (body.model, body.model_id, body.n_layers, body.n_heads) == (planted.slug, "planted", 2, 2)
    # Four synthetic examples, the last with an empty target mask (skipped); the folder's path stays private.
    assert (body.dataset.n_images, body.dataset.n_used, body.dataset.n_skipped) == (4, 3, 1)
    assert "/" not in body.dataset.name and str(o3_root.parent) not in response.text
    assert [layer.normalized_depth for layer in body.layers] == [0.0, 1.0]
    for layer in body.layers:
        for query in ("target_query", "distractor_query"):
            shares = getattr(layer, query)
            mean = shares.mean
            assert mean.same_object + mean.different_object + mean.background == pytest.approx(1.0, abs=1e-6)
            assert shares.heads is not None and len(shares.heads) == 2
            assert mean.same_object == pytest.approx(raw[query]["layer"]["same_object"][layer.layer])
            assert shares.std.background == pytest.approx(raw[query]["layer_std"]["background"][layer.layer])
    # Known by construction (tests/integration/test_o3_analysis.py): layer 0 head 0 groups green with
    # green, so the target query stays on the target; layer 1 head 0 sends green to the red distractors.
    target = [layer.target_query for layer in body.layers]
    assert target[0].heads is not None and target[0].heads[0].same_object > 0.9
    assert target[1].heads is not None and target[1].heads[0].different_object > 0.9
    assert body.chance.target_query.same_object == pytest.approx(raw["target_query"]["chance"]["same_object"])
    assert "images" not in response.json()


def test_an_atlas_without_o3_is_a_clear_404(o3_client: TestClient, atlases: dict[str, Atlas]) -> None:
    response = o3_client.get(f"/api/models/{atlases['tiny'].slug}/o3")
    assert response.status_code == 404
    assert "no odd-one-out results" in response.json()["detail"]
    assert o3_client.get("/api/models/nope/o3").status_code == 404


def test_results_are_parsed_once_and_reread_when_the_file_changes(
    make_client: AppFactory, o3_root: Path, atlases: dict[str, Atlas], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    shutil.copytree(o3_root, root)
    planted = atlases["planted"]
    path = root / planted.path.name / fmt.O3
    client = make_client(atlas_dir=root)
    url = f"/api/models/{planted.slug}/o3"
    first = client.get(url).json()

    calls = 0
    original = cast(property, Atlas.o3).fget  # read off the class, mypy types a property as its getter
    assert original is not None

    def counting(self: Atlas) -> object:
        nonlocal calls
        calls += 1
        return original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Atlas, "o3", property(counting))
        assert client.get(url).json() == first and client.get("/api/models").status_code == 200
        assert calls == 0  # unchanged file: served from the parsed copy

        raw = json.loads(path.read_text())
        raw["target_query"]["chance"]["same_object"] = 0.5
        path.write_text(json.dumps(raw))
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        assert client.get(url).json()["chance"]["target_query"]["same_object"] == 0.5
        assert calls == 1

        path.write_text("{not json")  # a broken file is no result, never a 500
        assert client.get(url).status_code == 404
        path.unlink()
        assert client.get(url).status_code == 404
        assert {m["slug"]: m["has_o3"] for m in client.get("/api/models").json()}[planted.slug] is False
