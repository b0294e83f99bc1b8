"""`GET /api/models/{model}/images/{image_id}/maps` and `/overlay.png`: any dataset image under any mode,
computed on demand.

The maps computed again from the original files must equal the maps the precompute job stored for its top
images (float16 tolerance), in both bases and both signs; from the stored crop (the original moved away) the
answer says so, and its maps are those of the crop itself, checked by brute force in numpy."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from qkatlas.atlas import Atlas
from qkatlas.conventions import Basis, Sign
from qkatlas.images import load_image_file, to_model_input
from tests.helpers.atlases import brute_force_projections_of
from tests.helpers.backend import AppFactory, CountingAnalyzer


def _maps_url(atlas: Atlas, index: int, layer: int, head: int, mode: int, sign: Sign, basis: Basis) -> str:
    return (
        f"/api/models/{atlas.slug}/images/{atlas.slug}~{index}/maps"
        f"?layer={layer}&head={head}&mode={mode}&sign={sign.value}&basis={basis.value}"
    )


def _assert_float16_close(got: np.ndarray, want: np.ndarray) -> None:
    scale = float(np.abs(want).max()) or 1.0
    np.testing.assert_allclose(got, want, rtol=4e-3, atol=4e-3 * scale)


@pytest.mark.parametrize("role", ["planted", "tiny"])
def test_on_the_fly_maps_equal_the_stored_maps_of_top_images(
    client: TestClient, atlases: dict[str, Atlas], role: str
) -> None:
    atlas = atlases[role]
    checked = 0
    for basis in atlas.bases:
        for sign in (Sign.pos, Sign.neg):
            for layer, head, mode in ((0, 0, 0), (atlas.n_layers - 1, atlas.n_heads - 1, 1)):
                for rank, (index, score) in enumerate(atlas.top_images(basis, layer, head, mode, sign)):
                    response = client.get(_maps_url(atlas, index, layer, head, mode, sign, basis))
                    assert response.status_code == 200, response.text
                    body = response.json()
                    assert body["from_original_file"] is True and body["note"] is None
                    assert body["image_id"] == f"{atlas.slug}~{index}" and body["revision"] == atlas.revision
                    stored_query, stored_key = atlas.maps(basis, layer, head, mode, sign, rank)
                    _assert_float16_close(np.array(body["maps"]["query"]), stored_query)
                    _assert_float16_close(np.array(body["maps"]["key"]), stored_key)
                    assert body["score"] == pytest.approx(score, rel=4e-3, abs=1e-5)
                    assert body["fires"] == bool(stored_query.max() > 0 and stored_key.max() > 0)
                    checked += 1
    assert checked >= 8 * len(atlas.bases)


def _moved_away(tmp_path: Path, atlas: Atlas) -> Path:
    """A copy of the atlas whose dataset folder can no longer be read."""
    root = tmp_path / "root"
    shutil.copytree(atlas.path, root / atlas.path.name)
    manifest_path = root / atlas.path.name / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["dataset"]["source"] = str(tmp_path / "moved-away")
    manifest_path.write_text(json.dumps(manifest))
    return root


def test_without_the_original_file_the_maps_come_from_the_stored_crop_and_say_so(
    tmp_path: Path, atlases: dict[str, Atlas], make_client: AppFactory
) -> None:
    atlas = atlases["tiny"]
    client = make_client(atlas_dir=_moved_away(tmp_path, atlas))
    index, _ = atlas.top_images(Basis.exact, 1, 2, 3, Sign.neg)[0]
    response = client.get(_maps_url(atlas, index, 1, 2, 3, Sign.neg, Basis.exact))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["from_original_file"] is False
    assert "stored crop" in body["note"] and "can no longer be read" in body["note"]
    assert str(tmp_path) not in response.text
    # The crop as stored is the model's input (not preprocessed again): brute force on its pixels.
    thumbnail = client.get(f"/api/images/{atlas.slug}~{index}").content
    with Image.open(io.BytesIO(thumbnail)) as image:
        pixels = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)
    reference = brute_force_projections_of(atlas, [pixels])
    grid = atlas.grid
    want_query = -reference["exact_q"][0, 1, 2, 3].reshape(grid, grid)
    want_key = -reference["exact_k"][0, 1, 2, 3].reshape(grid, grid)
    _assert_float16_close(np.array(body["maps"]["query"]), want_query)
    _assert_float16_close(np.array(body["maps"]["key"]), want_key)
    assert body["score"] == pytest.approx(float(want_query.max() * want_key.max()), rel=4e-3, abs=1e-5)


def test_an_image_recorded_without_a_thumbnail_is_computed_from_its_original_file(
    tmp_path: Path, atlases: dict[str, Atlas], make_client: AppFactory, planted_image_dir: Path
) -> None:
    atlas = atlases["planted"]
    root = tmp_path / "root"
    shutil.copytree(atlas.path, root / atlas.path.name)
    client = make_client(atlas_dir=root, atlas_poll_s=0)
    index, _ = atlas.top_images(Basis.faithful, 0, 0, 0, Sign.pos)[0]
    (root / atlas.path.name / "thumbs" / f"{index:08d}.jpg").unlink()  # after the service opened the atlas
    picture = client.get(f"/api/images/{atlas.slug}~{index}")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    record = atlas.image_meta(index)
    assert record is not None
    seen = to_model_input(load_image_file(planted_image_dir / record.source), atlas.manifest.preprocessing)
    with Image.open(io.BytesIO(picture.content)) as image:
        served = np.asarray(image.convert("RGB"), dtype=np.float64)
    assert served.shape == (atlas.image_size, atlas.image_size, 3)
    assert np.abs(served - seen.permute(1, 2, 0).numpy()).mean() < 3.0  # JPEG quality 92
    maps = client.get(_maps_url(atlas, index, 0, 0, 0, Sign.pos, Basis.faithful)).json()
    assert maps["from_original_file"] is True
    _assert_float16_close(np.array(maps["maps"]["query"]), atlas.maps(Basis.faithful, 0, 0, 0, Sign.pos, 0)[0])
    overlay = client.get(_maps_url(atlas, index, 0, 0, 0, Sign.pos, Basis.faithful).replace("/maps?", "/overlay.png?"))
    assert overlay.status_code == 200 and overlay.headers["content-type"] == "image/png"


def test_an_image_with_neither_original_nor_crop_is_404_saying_why(
    tmp_path: Path, atlases: dict[str, Atlas], make_client: AppFactory
) -> None:
    atlas = atlases["planted"]
    root = _moved_away(tmp_path, atlas)
    client = make_client(atlas_dir=root, atlas_poll_s=0)
    index, _ = atlas.top_images(Basis.faithful, 0, 0, 0, Sign.pos)[0]
    (root / atlas.path.name / "thumbs" / f"{index:08d}.jpg").unlink()
    maps = client.get(_maps_url(atlas, index, 0, 0, 0, Sign.pos, Basis.faithful))
    assert maps.status_code == 404
    assert "can no longer be read" in maps.json()["detail"] and "keeps no crop" in maps.json()["detail"]
    picture = client.get(f"/api/images/{atlas.slug}~{index}")
    assert picture.status_code == 404 and "keeps no crop" in picture.json()["detail"]


def test_bad_addresses_are_404_with_a_clear_message(client: TestClient, atlases: dict[str, Atlas]) -> None:
    planted, tiny = atlases["planted"], atlases["tiny"]
    index, _ = planted.top_images(Basis.faithful, 0, 0, 0, Sign.pos)[0]
    kept = {i for i in range(planted.manifest.dataset.n_images + 1) if planted.image_meta(i) is not None}
    unrecorded = next(i for i in range(planted.manifest.dataset.n_images + 1) if i not in kept)
    base = f"/api/models/{planted.slug}/images"
    cases = [
        (f"{base}/{planted.slug}~{unrecorded}/maps?layer=0&head=0&mode=0", "keeps no record of dataset image"),
        (f"{base}/{tiny.slug}~{index}/maps?layer=0&head=0&mode=0", f"belongs to atlas {tiny.slug!r}"),
        (f"{base}/{planted.slug}~{index}/maps?layer=99&head=0&mode=0", "no layer 99"),
        (f"{base}/{planted.slug}~{index}/maps?layer=0&head=99&mode=0", "no head 99"),
        (f"{base}/{planted.slug}~{index}/maps?layer=0&head=0&mode=999", "no mode 999"),
        (f"{base}/{planted.slug}~{index}/overlay.png?layer=0&head=0&mode=999", "no mode 999"),
        (f"/api/models/no-such-atlas/images/{planted.slug}~{index}/maps?layer=0&head=0&mode=0", "no model"),
    ]
    for url, message in cases:
        response = client.get(url)
        assert response.status_code == 404, (url, response.text)
        assert message in response.json()["detail"], (url, response.text)
    malformed = client.get(f"{base}/{planted.slug}-{index}/maps?layer=0&head=0&mode=0")
    assert malformed.status_code == 422 and "is not an image id" in malformed.text


def test_one_analysis_serves_every_mode_and_responses_revalidate(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, atlases: dict[str, Atlas]
) -> None:
    counting = CountingAnalyzer(monkeypatch)
    atlas = atlases["tiny"]
    index, _ = atlas.top_images(Basis.faithful, 0, 1, 2, Sign.pos)[0]
    first = client.get(_maps_url(atlas, index, 0, 1, 2, Sign.pos, Basis.faithful))
    for layer, head, mode in ((0, 1, 3), (1, 0, 0), (1, 2, 15)):
        assert client.get(_maps_url(atlas, index, layer, head, mode, Sign.neg, Basis.exact)).status_code == 200
    assert counting.calls == 1
    assert first.headers["cache-control"] == "public, no-cache"
    again = client.get(
        _maps_url(atlas, index, 0, 1, 2, Sign.pos, Basis.faithful), headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    pinned = client.get(_maps_url(atlas, index, 0, 1, 2, Sign.pos, Basis.faithful) + f"&v={atlas.revision}")
    assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = client.get(_maps_url(atlas, index, 0, 1, 2, Sign.pos, Basis.faithful) + "&v=0123456789abcdef")
    assert stale.status_code == 404 and "rebuilt" in stale.json()["detail"]


def test_the_class_across_models_lists_the_class_s_own_images(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["planted"]
    records = json.loads((atlas.path / "images.json").read_text())
    labels = sorted({record["label"] for record in records.values() if record["label"] is not None})
    assert labels
    for label in labels:
        body = client.get(f"/api/classes/{label}").json()
        (model,) = [m for m in body["models"] if m["model"] == atlas.slug]
        want = sorted(int(index) for index, record in records.items() if record["label"] == label)
        assert model["n_images_listed"] == len(want)
        assert [image["dataset_index"] for image in model["images"]] == want[: len(model["images"])]
        assert len(model["images"]) == min(len(want), 6) and model["revision"] == atlas.revision
        for image in model["images"]:
            assert image["image_id"] == f"{atlas.slug}~{image['dataset_index']}"
            assert client.get(image["thumbnail_url"]).status_code == 200
