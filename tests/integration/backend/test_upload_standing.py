"""An upload's standing in a mode's dataset distribution (``GET …/uploads/{id}/…/modes/{n}/standing``) on
atlases built by the real job, against a brute-force rank among the dataset's scores recomputed here in
float64 from each dataset image's tokens and the atlas's stored u, v (docs/method.md#standing-in-the-distribution)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from qkatlas.atlas import Atlas
from qkatlas.conventions import SIGNS, Basis
from tests.helpers.atlases import brute_force_projections, build_atlas
from tests.helpers.backend import AppFactory


def _upload(client: TestClient, data: bytes) -> str:
    response = client.post("/api/uploads", files={"file": ("image.png", data, "image/png")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _standing(client: TestClient, upload_id: str, atlas: Atlas, at: tuple[int, int, int], **params: str) -> Any:
    layer, head, mode = at
    url = f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/{layer}/heads/{head}/modes/{mode}/standing"
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _scores(projections: dict[str, np.ndarray], basis: Basis) -> np.ndarray:
    """``[N, L, H, M, 2]``: each image's score by the ranking rule, pos and neg."""
    query, key = projections[f"{basis.value}_q"], projections[f"{basis.value}_k"]
    pos = query.max(axis=-1) * key.max(axis=-1)
    neg = query.min(axis=-1) * key.min(axis=-1)
    return np.stack([pos, neg], axis=-1)


def test_the_standing_of_an_upload_is_its_brute_force_rank_among_the_dataset_scores(
    client: TestClient, atlases: dict[str, Atlas], photo_dir: Path, planted_image_dir: Path, tmp_path: Path
) -> None:
    atlas = atlases["tiny"]
    dataset = sorted(p for p in photo_dir.iterdir() if p.is_file())
    dataset_scores = {basis: _scores(brute_force_projections(atlas, dataset), basis) for basis in atlas.bases}
    photo = next(planted_image_dir.glob("red_blue/*.png"))  # not in the atlas's dataset
    upload_id = _upload(client, photo.read_bytes())
    upload_scores = {basis: _scores(brute_force_projections(atlas, [photo]), basis)[0] for basis in atlas.bases}

    checked = ambiguous = ranges = 0
    every = itertools.product(atlas.bases, range(atlas.n_layers), range(atlas.n_heads), range(atlas.n_modes))
    for basis, layer, head, mode in every:
        for sign_axis, sign in enumerate(SIGNS):
            body = _standing(client, upload_id, atlas, (layer, head, mode), sign=sign.value, basis=basis.value)
            theirs = dataset_scores[basis][:, layer, head, mode, sign_axis]
            ours = upload_scores[basis][layer, head, mode, sign_axis]
            scale = max(np.abs(theirs).max(), abs(ours))
            assert abs(body["score"] - ours) <= 1e-4 * scale
            standing = body["standing"]
            assert standing["count"] == len(dataset)
            # A dataset score within rounding of the upload's: float32 in the service, float64 here.
            if np.any(np.abs(theirs - body["score"]) <= 1e-4 * scale):
                ambiguous += 1
                continue
            below = int((theirs < body["score"]).sum())
            assert standing["below_at_least"] <= below <= standing["below_at_most"], (basis, layer, head, mode, sign)
            if standing["exact"]:
                assert standing["below_at_least"] == below
                assert standing["percentile_low"] == standing["percentile_high"] == 100 * below / len(dataset)
            else:
                ranges += 1
            enters = int((theirs >= body["score"]).sum())
            assert standing["top_k_rank"] == (enters if enters < atlas.top_k else None)
            checked += 1
    assert checked > 10 * max(ambiguous, 1)
    assert ranges < checked  # most are decided by the bins and the top-K of 16 images


def test_fires_follows_the_upload_maps_of_the_sign(
    client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    atlas = atlases["tiny"]
    upload_id = _upload(client, next(planted_image_dir.glob("red_blue/*.png")).read_bytes())
    for sign in SIGNS:
        body = _standing(client, upload_id, atlas, (1, 2, 0), sign=sign.value)
        url = f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/1/heads/2/modes/0/maps"
        maps = client.get(url, params={"sign": sign.value}).json()
        assert body["fires"] == (np.max(maps["query"]) > 0 and np.max(maps["key"]) > 0)
        assert (body["layer"], body["head"], body["mode"], body["sign"]) == (1, 2, 0, sign.value)


def test_an_atlas_without_statistics_says_no_distribution_is_stored(
    make_client: AppFactory, planted_image_dir: Path, tmp_path: Path
) -> None:
    build_atlas(tmp_path, "planted", planted_image_dir, "--top-k", "2", "--no-statistics")
    client = make_client(atlas_dir=tmp_path)
    (atlas,) = [Atlas.open(p) for p in tmp_path.iterdir() if (p / "manifest.json").exists()]
    upload_id = _upload(client, next(planted_image_dir.glob("red_blue/*.png")).read_bytes())
    body = _standing(client, upload_id, atlas, (0, 0, 0))
    assert body["standing"] is None
    assert body["standing_missing"].startswith("no distribution stored")
    assert np.isfinite(body["score"])


def test_an_unknown_upload_is_a_404(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["tiny"]
    url = f"/api/uploads/{'0' * 32}/models/{atlas.slug}/layers/0/heads/0/modes/0/standing"
    response = client.get(url)
    assert response.status_code == 404
    assert "expired" in response.json()["detail"]
