"""Samples across the distribution in the API: every signed mode's bands against the raw atlas arrays
(the counts from the histogram, the images from the stored samples, each image's thumbnail served), and
an atlas built before samples saying "rebuild to add samples"."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qkatlas.atlas import Atlas
from qkatlas.conventions import SIGNS
from tests.helpers.backend import AppFactory


def _samples_url(atlas: Atlas, layer: int, head: int, mode: int) -> str:
    return f"/api/models/{atlas.slug}/layers/{layer}/heads/{head}/modes/{mode}/samples"


@pytest.mark.parametrize("role", ["planted", "tiny"])
def test_every_signed_mode_answers_its_bands_from_the_stored_histogram_and_samples(
    client: TestClient, atlases: dict[str, Atlas], role: str
) -> None:
    atlas = atlases[role]
    arrays = atlas.arrays
    n_images = atlas.manifest.dataset.n_images - atlas.manifest.dataset.n_skipped
    thumbnails_checked: set[str] = set()
    for (axis, basis), layer, head, mode, (sign_axis, sign) in itertools.product(
        enumerate(atlas.bases), range(atlas.n_layers), range(atlas.n_heads), range(atlas.n_modes), enumerate(SIGNS)
    ):
        at = (axis, layer, head, mode, sign_axis)
        body = client.get(_samples_url(atlas, layer, head, mode), params={"basis": basis, "sign": sign}).json()
        assert body["samples_missing"] is None and body["per_band"] == 4
        bands = body["bands"]
        assert [band["band"] for band in bands] == list(range(8))
        histogram = arrays["stats_histogram"][at]
        expected_counts = [int(histogram[1 + 8 * b : 9 + 8 * b].sum()) for b in range(8)]
        expected_counts[0] += int(histogram[0])
        expected_counts[-1] += int(histogram[-1])
        assert [band["count"] for band in bands] == expected_counts
        assert sum(expected_counts) == n_images
        active = atlas.sigma_all[layer, head, mode] > 0
        for b, band in enumerate(bands):
            stored = [int(i) for i in arrays["sample_indices"][(*at, b)] if i >= 0]
            assert [image["dataset_index"] for image in band["images"]] == (stored if active else [])
            assert len(band["images"]) == min(4, band["count"]) if active else not band["images"]
            for image in band["images"]:
                slack = 1e-4 * max(abs(band["low"]), abs(band["high"]))  # float32 binning at the edges
                assert band["low"] - slack <= image["score"] <= band["high"] + slack
                if image["image_id"] not in thumbnails_checked:
                    response = client.get(image["thumbnail_url"])
                    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
                    thumbnails_checked.add(image["image_id"])
        assert bands[0]["low"] == pytest.approx(min(bands[0]["low"], float(arrays["stats_min"][at])))
    assert thumbnails_checked  # some images were sampled and shown


def test_an_atlas_built_before_samples_says_rebuild(
    tmp_path: Path, make_client: AppFactory, atlases: dict[str, Atlas]
) -> None:
    source = atlases["planted"].path
    old = tmp_path / source.name
    shutil.copytree(source, old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format_version"] = 3
    del manifest["statistics"]["samples"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    for name in ("sample_indices", "sample_scores", "sample_fires"):
        (old / "stats" / f"{name}.npy").unlink()
    client = make_client(atlas_dir=tmp_path)
    atlas = Atlas.open(old)
    body = client.get(_samples_url(atlas, 0, 0, 0)).json()
    assert body["bands"] == [] and body["per_band"] == 0
    assert "rebuild it to add samples" in body["samples_missing"]
    assert client.get(f"/api/models/{atlas.slug}/layers/0/heads/0/modes/0").status_code == 200


def test_an_unknown_mode_has_no_samples(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["planted"]
    response = client.get(_samples_url(atlas, 0, 0, atlas.n_modes))
    assert response.status_code == 404 and "mode" in response.json()["detail"]
