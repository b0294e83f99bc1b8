"""The attention moved by each mode through the API: on the mode page (mean, distribution, the images where
it is largest), beside σ on the head page, and for an atlas that did not measure it (format 4, or built
without --effects). References are read here from the atlas's arrays (themselves checked against brute
force in tests/integration/test_mode_effects.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qkatlas.atlas import Atlas
from tests.helpers.backend import AppFactory


def test_the_mode_page_carries_the_effect_with_its_images(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["planted"]
    arrays = atlas.arrays
    for planted in atlas.manifest.model.planted_modes:
        at = (planted.layer, planted.head, planted.mode)
        for sign in ("pos", "neg"):  # one effect per mode: both signs carry it
            url = f"/api/models/{atlas.slug}/layers/{planted.layer}/heads/{planted.head}/modes/{planted.mode}"
            body = client.get(url, params={"sign": sign}).json()
            effect = body["effect"]
            assert body["effect_missing"] is None
            assert effect["mean"] == pytest.approx(float(arrays["effects_mean"][at]))
            assert effect["count"] == atlas.manifest.dataset.n_images - atlas.manifest.dataset.n_skipped
            assert (
                effect["counts"] == arrays["effects_histogram"][at].tolist()
                and sum(effect["counts"]) == effect["count"]
            )
            low, width = arrays["effects_bin_low"][at], arrays["effects_bin_width"][at]
            assert effect["edges"] == pytest.approx((low + width * np.arange(len(effect["counts"]) - 1)).tolist())
            stored = [int(i) for i in arrays["effects_top_indices"][at] if i >= 0]
            assert [image["dataset_index"] for image in effect["top_images"]] == stored and stored
            values = [image["effect"] for image in effect["top_images"]]
            assert values == sorted(values, reverse=True) and values[0] == pytest.approx(effect["maximum"])
            for image in effect["top_images"]:
                assert image["image_id"] == f"{atlas.slug}~{image['dataset_index']}"
                assert client.get(image["thumbnail_url"]).headers["content-type"] == "image/jpeg"
            assert "½" in effect["definition"]


def test_the_head_page_shows_each_modes_effect_beside_sigma(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["planted"]
    body = client.get(f"/api/models/{atlas.slug}/layers/0/heads/0").json()
    assert body["effects_missing"] is None
    means = atlas.arrays["effects_mean"][0, 0]
    assert [mode["effect_mean"] for mode in body["modes"]] == pytest.approx(means.tolist())
    planted = {p.mode for p in atlas.manifest.model.planted_modes if (p.layer, p.head) == (0, 0)}
    strongest_effects = sorted(range(len(means)), key=lambda n: -means[n])[: len(planted)]
    assert set(strongest_effects) == planted  # the planted modes move the most attention in their head


def test_an_atlas_without_effects_is_served_and_says_how_to_get_them(
    tmp_path: Path, make_client: AppFactory, atlases: dict[str, Atlas]
) -> None:
    old = tmp_path / atlases["planted"].path.name
    shutil.copytree(atlases["planted"].path, old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format_version"] = 4  # as written before effects existed
    del manifest["effects"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(old / "effects")
    client = make_client(atlas_dir=tmp_path)
    mode = client.get(f"/api/models/{old.name}/layers/0/heads/0/modes/0").json()
    assert mode["effect"] is None and "--effects" in mode["effect_missing"]
    assert mode["distribution"] is not None  # everything else as before
    head = client.get(f"/api/models/{old.name}/layers/0/heads/0").json()
    assert all(m["effect_mean"] is None for m in head["modes"]) and "--effects" in head["effects_missing"]
    index = client.get(f"/api/models/{old.name}/modes", params={"sort": "effect", "min_effect": 0.5}).json()
    assert "--effects" in index["effects_missing"] and all(row["effect"] is None for row in index["rows"])
    assert index["total"] > 0  # the filter does not apply
