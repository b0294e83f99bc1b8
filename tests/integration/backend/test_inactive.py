"""An atlas of a checkpoint with pruned and dead heads, built by the real job and served by the API
(docs/method.md#inactive-modes): no NaN anywhere, inactive heads and modes flagged, no images for them."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import timm
from fastapi.testclient import TestClient
from PIL import Image

from backend.core.config import Settings
from backend.main import create_app
from qkatlas.atlas import Atlas, find_atlases
from qkatlas.models import load_model
from tests.helpers.atlases import TINY_OVERRIDES, TINY_VIT, build_atlas
from tests.helpers.pruned import ACTIVE_MODES, DEAD_WITH_BIAS, prune_heads


def _no_nan(constant: str) -> float:
    raise AssertionError(f"{constant} in a JSON file")


@pytest.fixture(scope="module")
def pruned_atlas(tmp_path_factory: pytest.TempPathFactory, photo_dir: Path) -> Atlas:
    """A pruned checkpoint saved like any local timm checkpoint, then the precompute CLI over it."""
    adapter = load_model(TINY_VIT, random_init=True, seed=6, overrides=TINY_OVERRIDES)
    prune_heads(adapter.module)
    checkpoint = tmp_path_factory.mktemp("pruned-vit")
    timm.models.save_for_hf(adapter.module, str(checkpoint), safe_serialization=True)
    root = tmp_path_factory.mktemp("pruned-atlases")
    path = build_atlas(root, str(checkpoint), photo_dir, "--top-k", "3", "--batch-size", "8")
    return Atlas.open(path)


@pytest.fixture
def client(pruned_atlas: Atlas) -> Iterator[TestClient]:
    settings = Settings(atlas_dir=pruned_atlas.path.parent, redis_url=None, frontend_dist=None, device="cpu")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_the_atlas_flags_inactive_modes_and_holds_no_nan(pruned_atlas: Atlas) -> None:
    assert find_atlases(pruned_atlas.path.parent)[1] == []
    assert pruned_atlas.active_all.sum(axis=-1).tolist() == ACTIVE_MODES
    for name in ("U", "V", "sigma", "cos", "query_offset"):
        assert np.isfinite(pruned_atlas.arrays[name]).all(), name
    inactive = ~pruned_atlas.active_all
    assert (pruned_atlas.sigma_all[inactive] == 0).all() and not pruned_atlas.arrays["U"][inactive].any()
    # The job stores no winners for them: unfilled slots (index -1, score NaN), and active modes have some.
    assert (pruned_atlas.arrays["topk_indices"][:, inactive] == -1).all()
    assert np.isnan(pruned_atlas.arrays["topk_scores"][:, inactive]).all()
    assert (pruned_atlas.arrays["topk_indices"][:, ~inactive] >= 0).all()
    summary = json.loads((pruned_atlas.path / "summary.json").read_text(), parse_constant=_no_nan)
    assert summary["head_weighted_cos"][0][:2] == [None, None]
    assert summary["head_weighted_cos"][1][0] is None
    # Layer 0 has one active head, so its mean is that head's value.
    assert summary["layer_weighted_cos"][0] == summary["head_weighted_cos"][0][2]
    assert all(value is not None for value in summary["layer_unweighted_cos"])


def test_model_detail_has_nulls_for_inactive_heads_and_the_active_flags(
    client: TestClient, pruned_atlas: Atlas
) -> None:
    response = client.get(f"/api/models/{pruned_atlas.slug}")
    assert response.status_code == 200
    body = json.loads(response.text, parse_constant=_no_nan)
    assert [[value is None for value in row] for row in body["head_weighted_cos"]] == [
        [True, True, False],
        [True, False, False],
    ]
    assert np.sum(body["spectra"]["active"], axis=-1).tolist() == ACTIVE_MODES
    active_heads = [v for v in body["head_weighted_cos"][1] if v is not None]
    assert body["layers"][1]["weighted_cos"] == pytest.approx(np.mean(active_heads))


def test_an_inactive_head_and_its_modes_say_so_and_have_no_images(client: TestClient, pruned_atlas: Atlas) -> None:
    base = f"/api/models/{pruned_atlas.slug}/layers/0/heads/0"
    for basis in ("faithful", "exact"):
        head = client.get(base, params={"basis": basis}).json()
        assert head["active"] is False and head["weighted_cos"] is None
        assert {(m["active"], m["sigma"], m["cos"]) for m in head["modes"]} == {(False, 0.0, 0.0)}
        assert all(m["best_score"] == {"pos": None, "neg": None} for m in head["modes"])
        assert all(m["best_image"] == {"pos": None, "neg": None} for m in head["modes"])
        for sign in ("pos", "neg"):
            mode = client.get(f"{base}/modes/0", params={"basis": basis, "sign": sign}).json()
            assert mode["active"] is False and mode["top_images"] == []
            assert mode["sigma"] == 0.0 and mode["sigma_fraction"] == 0.0
    assert client.get(f"{base}/modes/0/top/0/overlay.png").status_code == 404
    assert client.get(f"{base}/modes/0/top/0/maps").json()["detail"] == "no rank 0: this mode has 0 top images"


def test_a_rank_deficient_head_has_active_and_inactive_modes(client: TestClient, pruned_atlas: Atlas) -> None:
    base = f"/api/models/{pruned_atlas.slug}/layers/1/heads/2"
    head = client.get(base).json()
    assert head["active"] is True and head["weighted_cos"] is not None
    assert [m["active"] for m in head["modes"]] == [mode < 10 for mode in range(16)]
    assert client.get(f"{base}/modes/0").json()["top_images"] != []
    assert client.get(f"{base}/modes/12").json()["top_images"] == []


def test_an_upload_ranks_inactive_modes_last_and_splits_a_dead_heads_attention(
    client: TestClient, pruned_atlas: Atlas
) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    upload = client.post("/api/uploads", files={"file": ("a.png", buffer.getvalue(), "image/png")}).json()["id"]
    base = f"/api/uploads/{upload}/models/{pruned_atlas.slug}"
    ranked = json.loads(client.get(f"{base}/layers/1/heads/2").text, parse_constant=_no_nan)["modes"]
    assert [m["active"] for m in ranked] == [True] * 10 + [False] * 6
    assert [m["rank"] for m in ranked] == list(range(16))
    contributions = [m["contribution"] for m in ranked[:10]]
    assert contributions == sorted(contributions, reverse=True)
    layer, head = DEAD_WITH_BIAS
    split = client.get(f"{base}/layers/{layer}/heads/{head}/attention", params={"query_patch": 3})
    assert split.status_code == 200
    body = json.loads(split.text, parse_constant=_no_nan)
    assert all(not any(m["logits"]) for m in body["modes"])


def test_the_whole_model_ranking_of_an_upload_leaves_the_inactive_modes_out(
    client: TestClient, pruned_atlas: Atlas
) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    upload = client.post("/api/uploads", files={"file": ("a.png", buffer.getvalue(), "image/png")}).json()["id"]
    response = client.get(f"/api/uploads/{upload}/models/{pruned_atlas.slug}/modes", params={"limit": 200})
    body = json.loads(response.text, parse_constant=_no_nan)
    n_active = sum(map(sum, ACTIVE_MODES))
    assert body["n_modes_total"] == n_active and len(body["modes"]) == n_active
    listed = {(m["layer"], m["head"], m["mode"]) for m in body["modes"]}
    assert listed == {tuple(int(i) for i in at) for at in np.argwhere(pruned_atlas.active_all)}
    assert all(m["sigma"] > 0 for m in body["modes"])
