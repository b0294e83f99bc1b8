"""`POST /api/images/{image_id}/upload`: a top image of an atlas becomes an upload, from its original file
when that can still be read, else from the atlas's thumbnail."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from qkatlas.atlas import Atlas
from qkatlas.conventions import Basis, Sign
from tests.helpers.backend import AppFactory


def _top_image(atlas: Atlas) -> tuple[str, int]:
    index = atlas.top_images(Basis.faithful, 0, 0, 0, Sign.pos)[0][0]
    return f"{atlas.slug}~{index}", index


def test_a_dataset_image_uploads_its_original_file(
    client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    atlas = atlases["planted"]
    image_id, index = _top_image(atlas)
    meta = atlas.image_meta(index)
    assert meta is not None
    response = client.post(f"/api/images/{image_id}/upload")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["image_id"] == image_id and body["source"] == meta.source and body["label"] == meta.label
    assert body["from_original_file"] is True and body["note"] is None
    original = (planted_image_dir / meta.source).read_bytes()
    assert body["upload"]["id"] == hashlib.sha256(original).hexdigest()[:32]
    assert (body["upload"]["width"], body["upload"]["n_bytes"]) == (2 * atlas.image_size, len(original))
    # The same analysis as the same file uploaded directly (the upload store is content-addressed).
    direct = client.post("/api/uploads", files={"file": ("direct.png", original, "image/png")}).json()
    assert direct["id"] == body["upload"]["id"]
    modes = f"/api/uploads/{direct['id']}/models/{atlas.slug}/modes"
    assert (
        client.get(modes).json() == client.get(f"/api/uploads/{body['upload']['id']}/models/{atlas.slug}/modes").json()
    )


def test_without_its_original_file_a_dataset_image_uploads_the_thumbnail(
    tmp_path: Path, atlases: dict[str, Atlas], make_client: AppFactory
) -> None:
    atlas = atlases["planted"]
    root = tmp_path / "root"
    shutil.copytree(atlas.path, root / atlas.path.name)
    manifest = json.loads((root / atlas.path.name / "manifest.json").read_text())
    manifest["dataset"]["source"] = str(tmp_path / "moved-away")
    (root / atlas.path.name / "manifest.json").write_text(json.dumps(manifest))
    client = make_client(atlas_dir=root)
    image_id, _ = _top_image(atlas)
    response = client.post(f"/api/images/{image_id}/upload")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["from_original_file"] is False
    assert "can no longer be read" in body["note"] and str(tmp_path) not in response.text
    thumbnail = client.get(f"/api/images/{image_id}").content
    assert body["upload"]["id"] == hashlib.sha256(thumbnail).hexdigest()[:32]
    assert (body["upload"]["width"], body["upload"]["height"]) == (atlas.image_size, atlas.image_size)


def test_an_image_the_atlas_does_not_keep_is_404(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["planted"]
    kept = {index for index in range(atlas.manifest.dataset.n_images) if atlas.image_meta(index) is not None}
    missing = next(index for index in range(atlas.manifest.dataset.n_images + 1) if index not in kept)
    response = client.post(f"/api/images/{atlas.slug}~{missing}/upload")
    assert response.status_code == 404 and "top images" in response.json()["detail"]
    unknown_model = client.post("/api/images/no-such-atlas~0/upload")
    assert unknown_model.status_code == 404 and "no model 'no-such-atlas'" in unknown_model.json()["detail"]


def test_dataset_image_uploads_count_against_the_upload_rate_limit(
    make_client: AppFactory, atlases: dict[str, Atlas]
) -> None:
    client = make_client(upload_rate_limit=1, upload_rate_window_s=60)
    image_id, _ = _top_image(atlases["planted"])
    assert client.post(f"/api/images/{image_id}/upload").status_code == 201
    assert client.post(f"/api/images/{image_id}/upload").status_code == 429
