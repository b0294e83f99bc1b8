"""Browsing the atlas through the API: health, models, heads, modes, overlays, maps, images."""

from __future__ import annotations

import io
import itertools
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from qkatlas.atlas import Atlas
from qkatlas.conventions import Basis, Sign
from qkatlas.models.base import PlantedMode
from qkatlas.models.planted import PLANTED_MODES
from qkatlas.render import patch_bounds
from tests.helpers.backend import AppFactory
from tests.helpers.overlays import outlined_pixels

if TYPE_CHECKING:
    import httpx2  # what starlette's TestClient is built on


def _mode_url(atlas: Atlas, layer: int = 0, head: int = 0, mode: int = 0) -> str:
    return f"/api/models/{atlas.slug}/layers/{layer}/heads/{head}/modes/{mode}"


def _assert_clean_error(response: httpx2.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    text = response.text
    assert "Traceback" not in text and "/tmp" not in text and "/work" not in text and ".py" not in text


def test_health_lists_atlases_and_device(client: TestClient, atlases: dict[str, Atlas]) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["device"] == "cpu"
    assert body["redis"] == "not_configured"
    assert body["analysis"] == {"scope": "process", "size": 16, "running": 0}  # QKATLAS_ANALYSIS_QUEUE
    assert sorted(body["atlases"]) == sorted(a.slug for a in atlases.values())
    assert body["failed_atlases"] == []


def test_broken_atlas_is_reported_and_the_others_keep_serving(
    tmp_path: Path, atlas_root: Path, atlases: dict[str, Atlas], make_client: AppFactory
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "good").symlink_to(atlases["planted"].path)
    broken = root / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text(json.dumps(atlases["planted"].manifest.to_json_dict()))
    client = make_client(atlas_dir=root)
    body = client.get("/api/health").json()
    assert body["status"] == "degraded"
    assert body["atlases"] == [atlases["planted"].slug]
    [failure] = body["failed_atlases"]
    assert failure["directory"] == "broken" and failure["reason"]
    assert str(tmp_path) not in json.dumps(body)
    assert client.get(_mode_url(atlases["planted"])).status_code == 200


def test_health_names_the_wrong_field_of_a_manifest(
    tmp_path: Path, atlases: dict[str, Atlas], make_client: AppFactory
) -> None:
    root = tmp_path / "root"
    shutil.copytree(atlases["planted"].path, root / "wrong-field")
    manifest = atlases["planted"].manifest.to_json_dict()
    manifest["model"]["n_heads"] = "two"
    (root / "wrong-field" / "manifest.json").write_text(json.dumps(manifest))
    [failure] = make_client(atlas_dir=root).get("/api/health").json()["failed_atlases"]
    assert failure["directory"] == "wrong-field"
    assert failure["reason"].startswith("manifest.json: model.n_heads: ")


def test_models_list_describes_every_atlas(client: TestClient, atlases: dict[str, Atlas]) -> None:
    models = {m["slug"]: m for m in client.get("/api/models").json()}
    tiny = models[atlases["tiny"].slug]
    assert tiny["model_id"] == "vit_tiny_patch16_224"
    assert (tiny["n_layers"], tiny["n_heads"], tiny["n_modes"], tiny["grid"]) == (2, 3, 16, 4)
    assert tiny["bases"] == ["faithful", "exact"]
    assert tiny["random_init"] is True and tiny["planted"] is False
    assert tiny["dataset"]["n_images"] == 16
    assert models[atlases["planted"].slug]["planted"] is True


def test_models_list_the_planted_modes_and_the_preprocessing_in_words(
    client: TestClient, atlases: dict[str, Atlas]
) -> None:
    models = {m["slug"]: m for m in client.get("/api/models").json()}
    tiny, planted = models[atlases["tiny"].slug], models[atlases["planted"].slug]
    assert tiny["planted_modes"] == []
    assert {(m["layer"], m["head"], m["mode"], m["sign"], m["query"], m["key"]) for m in planted["planted_modes"]} == {
        (0, 0, 0, "pos", "red", "blue"),
        (0, 0, 1, "pos", "green", "green"),
        (1, 0, 0, "pos", "green", "red"),
    }
    grouping = next(m for m in planted["planted_modes"] if m["kind"] == "grouping")
    assert "both the query and the key map light the green squares" in grouping["expected_look"]
    # The planted model squashes to 64 px (qkatlas.models.planted.PREPROCESSING).
    assert planted["preprocessing"] == {
        "resize": 64,
        "crop": 64,
        "resize_mode": "exact",
        "interpolation": "bilinear",
        "mean": [0.0, 0.0, 0.0],
        "std": [1.0, 1.0, 1.0],
        "description": "squashed to 64 × 64 px (bilinear; the aspect ratio is not kept)",
    }
    assert tiny["preprocessing"]["crop"] == tiny["image_size"]
    assert tiny["preprocessing"]["description"].endswith(
        f"the centre {tiny['image_size']} × {tiny['image_size']} px cropped"
    )


def test_model_detail_has_layer_summaries_matrix_and_spectra(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["tiny"]
    body = client.get(f"/api/models/{atlas.slug}").json()
    assert [layer["layer"] for layer in body["layers"]] == [0, 1]
    assert body["layers"][1]["normalized_depth"] == 1.0
    assert body["head_weighted_cos"] == atlas.summary.head_weighted_cos
    assert np.allclose(body["spectra"]["sigma"], atlas.sigma_all)
    assert np.allclose(body["spectra"]["cos"], atlas.cos_all)
    assert np.array_equal(body["spectra"]["degenerate"], atlas.degenerate_all)
    assert np.array_equal(body["spectra"]["active"], atlas.sigma_all > 0)
    assert body["baseline_95"] == pytest.approx(1.96 / np.sqrt(48))


def test_head_lists_every_mode_with_best_scores_and_images(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["planted"]
    body = client.get(f"/api/models/{atlas.slug}/layers/0/heads/0", params={"basis": "exact"}).json()
    assert body["basis"] == "exact" and len(body["modes"]) == atlas.n_modes
    mode0 = body["modes"][0]
    assert mode0["sigma"] == pytest.approx(9.0) and mode0["cos"] == pytest.approx(0.0, abs=1e-6)
    best_index, best_score = atlas.top_images(Basis.exact, 0, 0, 0, Sign.pos)[0]
    assert mode0["best_score"]["pos"] == pytest.approx(best_score)
    assert mode0["best_image"]["pos"]["image_id"] == f"{atlas.slug}~{best_index}"
    assert client.get(mode0["best_image"]["pos"]["thumbnail_url"]).status_code == 200


@pytest.mark.parametrize("planted", PLANTED_MODES, ids=lambda p: p.description)
@pytest.mark.parametrize("basis", [Basis.faithful, Basis.exact])
def test_planted_mode_ranks_an_image_with_its_colours_first(
    client: TestClient, atlases: dict[str, Atlas], planted: PlantedMode, basis: Basis
) -> None:
    atlas = atlases["planted"]
    url = _mode_url(atlas, planted.layer, planted.head, planted.mode)
    body = client.get(url, params={"sign": "pos", "basis": basis}).json()
    assert body["sigma"] == pytest.approx(planted.sigma)
    top = body["top_images"]
    assert len(top) == atlas.top_k and [t["rank"] for t in top] == list(range(atlas.top_k))
    assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(top))
    first = top[0]
    assert planted.query in first["label"] and planted.key in first["label"], first
    # The maps light up where the colours are: query on the query colour, key on the key colour.
    maps = client.get(first["maps_url"]).json()
    thumb = np.asarray(Image.open(io.BytesIO(client.get(first["thumbnail_url"]).content)).convert("RGB"), float)
    cell = atlas.image_size // atlas.grid
    means = thumb.reshape(atlas.grid, cell, atlas.grid, cell, 3).mean(axis=(1, 3))
    channel = {"red": 0, "green": 1, "blue": 2}
    for name, colour in (("query", planted.query), ("key", planted.key)):
        grid = np.asarray(maps[name])
        hottest = np.unravel_index(np.argmax(grid), grid.shape)
        rgb = means[hottest]
        assert rgb[channel[colour]] == rgb.max() and rgb.max() - rgb.min() > 80, (name, colour, rgb)


def test_mode_detail_fields_and_urls(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["tiny"]
    body = client.get(_mode_url(atlas, 1, 2, 3), params={"sign": "neg", "basis": "exact"}).json()
    assert (body["layer"], body["head"], body["mode"], body["sign"], body["basis"]) == (1, 2, 3, "neg", "exact")
    sigma = atlas.sigma(1, 2)
    assert body["sigma_fraction"] == pytest.approx(sigma[3] / sigma.sum())
    winners = atlas.top_images(Basis.exact, 1, 2, 3, Sign.neg)
    assert [(t["dataset_index"], t["score"]) for t in body["top_images"]] == [(i, pytest.approx(s)) for i, s in winners]
    for top in body["top_images"]:
        assert top["image_id"] == f"{atlas.slug}~{top['dataset_index']}"
        assert not top["source"].startswith("/")
        assert "sign=neg" in top["overlay_url"] and "basis=exact" in top["overlay_url"]
        maps = client.get(top["maps_url"]).json()
        query, key = atlas.maps(Basis.exact, 1, 2, 3, Sign.neg, top["rank"])
        assert np.allclose(maps["query"], query) and np.allclose(maps["key"], key)
        assert maps["grid"] == atlas.grid and maps["image_size"] == atlas.image_size
        assert maps["scale"] == body["map_scale"]


def _patch_centres(rgb: np.ndarray, grid: int) -> np.ndarray:
    """``[grid, grid, 3]``: each patch's centre pixel (the peaks' outlines are drawn at and beyond patch edges)."""
    cell = rgb.shape[0] // grid
    return rgb[cell // 2 :: cell, cell // 2 :: cell][:grid, :grid]


def _away_from_peaks(query: np.ndarray, key: np.ndarray) -> np.ndarray:
    """``[grid, grid]`` bool: the patches no outline reaches (more than one patch from both maps' peaks)."""
    rows, cols = np.indices(query.shape)
    away = np.ones(query.shape, bool)
    for peak in (query, key):
        row, col = divmod(int(np.argmax(peak)), peak.shape[1])
        away &= np.maximum(abs(rows - row), abs(cols - col)) > 1
    return away


def _query_ring_patches(rgb: np.ndarray, grid: int) -> list[tuple[int, int]]:
    """The patches outlined as a query peak, read from the pixels: a white line 2 px wide inside the patch's
    top and left edges, black just outside them."""
    size, found = rgb.shape[0], []
    for row in range(grid):
        for col in range(grid):
            (y0, y1), (x0, x1) = patch_bounds(row, grid, size), patch_bounds(col, grid, size)
            white = (rgb[y0 : y0 + 2, x0:x1] == 255).all() and (rgb[y0:y1, x0 : x0 + 2] == 255).all()
            black = (y0 == 0 or (rgb[y0 - 1, x0:x1] == 0).all()) and (x0 == 0 or (rgb[y0:y1, x0 - 1] == 0).all())
            if white and black:
                found.append((row, col))
    return found


def test_every_overlay_of_a_mode_is_drawn_on_the_modes_one_scale_with_its_peaks_outlined(
    client: TestClient, atlases: dict[str, Atlas]
) -> None:
    atlas = atlases["tiny"]
    url = _mode_url(atlas, 1, 2, 0)
    body = client.get(url, params={"sign": "neg"}).json()
    top = body["top_images"]
    assert len(top) >= 2
    all_maps = [client.get(t["maps_url"]).json() for t in top]
    # The colour bar's numbers: the largest value of each map over every listed top image, computed here.
    expected = {name: max(max(max(row) for row in m[name]) for m in all_maps) for name in ("query", "key")}
    assert body["map_scale"] == pytest.approx(expected)
    for t, maps in zip(top[:2], all_maps[:2], strict=True):
        query, key = np.asarray(maps["query"]), np.asarray(maps["key"])
        drawn = {}
        for channel in ("query", "key"):
            png = client.get(f"{t['overlay_url']}&channel={channel}&blend=0&opacity=1").content
            drawn[channel] = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        # Red = the query map over the mode's query scale; green = the key map over its key scale (red/cyan).
        red = _patch_centres(drawn["query"], atlas.grid)[..., 0] / 255.0
        green = _patch_centres(drawn["key"], atlas.grid)[..., 1] / 255.0
        away = _away_from_peaks(query, key)
        assert away.any()
        assert np.allclose(red[away], np.clip(query / expected["query"], 0, 1)[away], atol=1 / 255 + 1e-3)
        assert np.allclose(green[away], np.clip(key / expected["key"], 0, 1)[away], atol=1 / 255 + 1e-3)
        # The outlined patch is the query map's argmax, found independently from the JSON maps.
        q_row, q_col = divmod(int(np.argmax(query)), atlas.grid)
        assert _query_ring_patches(drawn["key"], atlas.grid) == [(q_row, q_col)]
        assert (maps["query_peak"]["row"], maps["query_peak"]["column"]) == (q_row, q_col)
        k_row, k_col = divmod(int(np.argmax(key)), atlas.grid)
        assert (maps["key_peak"]["row"], maps["key_peak"]["column"]) == (k_row, k_col)


def test_overlay_png_matches_the_renderer_and_options(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["planted"]
    url = f"{_mode_url(atlas)}/top/0/overlay.png"
    response = client.get(url, params={"blend": 0, "opacity": 1})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    # Cacheable for good only where the address names the atlas revision (a rebuild changes it).
    assert response.headers["cache-control"] == "public, no-cache"
    pinned = client.get(url, params={"blend": 0, "opacity": 1, "v": atlas.revision})
    assert pinned.content == response.content and "immutable" in pinned.headers["cache-control"]
    rgb = np.asarray(Image.open(io.BytesIO(response.content)))
    assert rgb.shape == (atlas.image_size, atlas.image_size, 3)
    query, key = atlas.maps(Basis.faithful, 0, 0, 0, Sign.pos, 0)
    scale = client.get(_mode_url(atlas)).json()["map_scale"]["query"]
    red = _patch_centres(rgb, atlas.grid)[..., 0] / 255.0
    away = _away_from_peaks(query, key)
    assert away.sum() >= 20
    assert np.allclose(red[away], np.clip(query / scale, 0, 1)[away], atol=1 / 255 + 1e-6)
    # Options change the picture; the same options give the same (cached) bytes.
    variants = {
        (channel, palette, blend, opacity): client.get(
            url, params={"channel": channel, "palette": palette, "blend": blend, "opacity": opacity}
        ).content
        for channel in ("query", "key", "both")
        for palette in ("red_cyan", "orange_blue")
        for blend in (0, 0.7)
        for opacity in (0.4, 0.6)
    }
    assert len(set(variants.values())) == len(variants)
    assert (
        client.get(url, params={"channel": "key", "palette": "orange_blue", "blend": 0.7}).content
        == variants[("key", "orange_blue", 0.7, 0.6)]  # the default opacity
    )


def test_an_overlay_without_maps_is_the_photo_in_colour(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["planted"]
    index = atlas.top_images(Basis.faithful, 0, 0, 0, Sign.pos)[0][0]
    thumbnail = np.asarray(Image.open(io.BytesIO(client.get(f"/api/images/{atlas.slug}~{index}").content)))
    overlay = client.get(f"{_mode_url(atlas)}/top/0/overlay.png", params={"blend": 1, "opacity": 0})
    drawn = np.asarray(Image.open(io.BytesIO(overlay.content)))
    # Only the two peaks' outlines are drawn over it: every other pixel is the photo's.
    outlines = outlined_pixels(*atlas.maps(Basis.faithful, 0, 0, 0, Sign.pos, 0), atlas.image_size)
    assert np.array_equal(drawn[~outlines], thumbnail[~outlines])
    assert not np.array_equal(drawn[outlines], thumbnail[outlines])
    assert np.ptp(thumbnail.astype(int), axis=-1).max() > 100  # the planted images have coloured squares


@pytest.mark.parametrize("opacity", ["-0.1", "1.5", "half"])
def test_an_opacity_outside_0_to_1_is_refused(client: TestClient, atlases: dict[str, Atlas], opacity: str) -> None:
    response = client.get(f"{_mode_url(atlases['planted'])}/top/0/overlay.png", params={"opacity": opacity})
    assert response.status_code == 422 and "opacity" in response.text


def test_image_thumbnail_is_the_crop_the_model_saw(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["tiny"]
    index = atlas.top_images(Basis.faithful, 0, 0, 0, Sign.pos)[0][0]
    response = client.get(f"/api/images/{atlas.slug}~{index}")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == (atlas.image_size, atlas.image_size)


@pytest.mark.parametrize(
    "path",
    [
        "/api/models/no-such-model",
        "/api/models/{slug}/layers/2/heads/0",
        "/api/models/{slug}/layers/0/heads/3",
        "/api/models/{slug}/layers/0/heads/0/modes/16",
        "/api/models/{slug}/layers/0/heads/0/modes/0/top/4/overlay.png",
        "/api/models/{slug}/layers/0/heads/0/modes/0/top/99/maps",
        "/api/images/{slug}~99999",
        "/api/images/no-such-atlas~0",
        "/api/uploads/0123456789abcdef0123456789abcdef",
        "/api/no-such-endpoint",
    ],
)
def test_unknown_resources_are_404_json(client: TestClient, atlases: dict[str, Atlas], path: str) -> None:
    _assert_clean_error(client.get(path.format(slug=atlases["tiny"].slug)), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/api/models/{slug}/layers/-1/heads/0",
        "/api/models/{slug}/layers/x/heads/0",
        "/api/models/{slug}/layers/0/heads/0/modes/0?sign=up",
        "/api/models/{slug}/layers/0/heads/0/modes/0?basis=other",
        "/api/models/{slug}/layers/0/heads/0/modes/0/top/0/overlay.png?blend=2",
        "/api/models/{slug}/layers/0/heads/0/modes/0/top/0/overlay.png?channel=value",
        "/api/models/{slug}/layers/0/heads/0/modes/0/top/0/overlay.png?palette=rainbow",
        "/api/models/Bad%20Slug",
        "/api/images/not-an-id",
        "/api/uploads/not-a-hash",
    ],
)
def test_malformed_parameters_are_422(client: TestClient, atlases: dict[str, Atlas], path: str) -> None:
    response = client.get(path.format(slug=atlases["tiny"].slug))
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)


@pytest.mark.parametrize(
    ("method", "path", "sentence"),
    [
        ("GET", "/api/uploads/deadbeef", "'deadbeef' is not an upload id: upload ids are the 32 lower-case hex digits"),
        ("GET", "/api/uploads/DEADBEEF/models/{slug}/image.png", "'DEADBEEF' is not an upload id: "),
        (
            "GET",
            "/api/images/not-an-id",
            "'not-an-id' is not an image id: image ids are `<atlas slug>~<dataset index>`",
        ),
        ("POST", "/api/images/{slug}~x/upload", "'{slug}~x' is not an image id: "),
        ("GET", "/api/uploads/" + "a" * 200, f"'{'a' * 80}…' is not an upload id: "),
    ],
)
def test_a_malformed_id_is_answered_in_words_once(
    client: TestClient, atlases: dict[str, Atlas], method: str, path: str, sentence: str
) -> None:
    slug = atlases["planted"].slug
    response = client.request(method, path.format(slug=slug))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["msg"].startswith(sentence.format(slug=slug)) and "[0-9" not in error["msg"]


def test_frontend_is_served_with_spa_fallback_and_api_404_stays_json(tmp_path: Path, make_client: AppFactory) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>qkatlas</title>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("outside")
    client = make_client(frontend_dist=dist)
    assert client.get("/").text.startswith("<!doctype html>")
    assert client.get("/models/x/layers/0/heads/1/modes/2").text.startswith("<!doctype html>")
    assert client.get("/assets/app.js").text == "console.log(1)"
    assert "outside" not in client.get("/../secret.txt").text
    assert "outside" not in client.get("/%2e%2e/secret.txt").text
    _assert_clean_error(client.get("/api/nope"), 404)
    _assert_clean_error(client.get("/api/models/no-such-model"), 404)
    assert client.get("/api/health").status_code == 200
