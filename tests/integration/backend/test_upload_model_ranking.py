"""An upload's modes ranked across every layer and head of a model (``GET …/models/{model}/modes``)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, NoReturn

import pytest
from fastapi.testclient import TestClient

import backend.services.analysis.analyzers as analyzers_service
from qkatlas.analysis import ImageAnalysis, ImageAnalyzer
from qkatlas.atlas import Atlas
from qkatlas.conventions import Basis
from qkatlas.images import decode_image, to_model_input
from qkatlas.models import ModelSource, load_model_from_source
from qkatlas.models.planted import PLANTED_MODES
from qkatlas.svd import decompose
from tests.helpers.backend import AppFactory, CountingAnalyzer


def _upload(client: TestClient, data: bytes) -> str:
    response = client.post("/api/uploads", files={"file": ("image.png", data, "image/png")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _image(planted_image_dir: Path, colours: str) -> bytes:
    """A generated planted-model image with patches of ``colours`` (e.g. ``red_blue_green``)."""
    return next(planted_image_dir.glob(f"{colours}/*.png")).read_bytes()


def _model_modes(client: TestClient, upload_id: str, atlas: Atlas, **params: str | int) -> dict[str, Any]:
    response = client.get(f"/api/uploads/{upload_id}/models/{atlas.slug}/modes", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _analysis_of(atlas: Atlas, data: bytes) -> ImageAnalysis:
    """The image analysed here, with the atlas's model rebuilt from its manifest: not by the service."""
    adapter = load_model_from_source(atlas.manifest.model_source)
    adapter.module.eval()
    image = to_model_input(decode_image(data), atlas.manifest.preprocessing)
    return ImageAnalyzer(adapter, decompose(adapter.weights())).analyze(image)


@pytest.mark.parametrize("basis", list(Basis))
def test_the_ranking_is_the_top_of_every_active_mode_sorted_by_contribution(
    client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path, basis: Basis
) -> None:
    atlas = atlases["tiny"]
    data = _image(planted_image_dir, "red_blue")
    expected = _analysis_of(atlas, data)
    contribution, scores = expected.contribution[basis], expected.scores[basis]
    every_mode = itertools.product(range(atlas.n_layers), range(atlas.n_heads), range(atlas.n_modes))
    brute_force = sorted(
        (at for at in every_mode if atlas.sigma_all[at] > 0),
        key=lambda at: (-contribution[at], at),
    )

    limit = 25
    body = _model_modes(client, _upload(client, data), atlas, basis=basis.value, limit=limit)
    assert body["n_modes_total"] == len(brute_force) == atlas.n_layers * atlas.n_heads * atlas.n_modes
    assert (body["basis"], body["model"], body["revision"]) == (basis, atlas.slug, atlas.revision)
    assert "reconstruction" in body["contribution_rule"]
    modes = body["modes"]
    assert [m["rank"] for m in modes] == list(range(limit))
    assert [(m["layer"], m["head"], m["mode"]) for m in modes] == brute_force[:limit]
    for entry, at in zip(modes, brute_force, strict=False):
        pos, neg = scores[at]
        assert entry["contribution"] == pytest.approx(contribution[at], rel=1e-4, abs=1e-6)
        assert (entry["pos_score"], entry["neg_score"]) == pytest.approx((pos, neg), rel=1e-4, abs=1e-6)
        assert entry["sign"] == ("pos" if pos >= neg else "neg")
        assert entry["sigma"] == pytest.approx(float(atlas.sigma_all[at]))
        assert entry["cos"] == pytest.approx(float(atlas.cos_all[at]))
        assert entry["degenerate"] == bool(atlas.degenerate_all[at])


def test_an_image_of_the_planted_colours_puts_the_planted_modes_on_top(
    client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    atlas = atlases["planted"]
    upload_id = _upload(client, _image(planted_image_dir, "red_blue_green"))
    planted = {(m.layer, m.head, m.mode) for m in PLANTED_MODES}
    for basis in ("faithful", "exact"):
        modes = _model_modes(client, upload_id, atlas, basis=basis)["modes"]
        # The filler modes read dimensions no token uses: they contribute nothing (up to rounding), so
        # the list holds the planted modes alone, not padded to the default limit of 20.
        assert {(m["layer"], m["head"], m["mode"]) for m in modes} == planted, basis
        # Each planted mode finds its colours on the image: the pos mode (u, v as planted) wins.
        assert all(m["sign"] == "pos" for m in modes)


def test_the_whole_model_and_its_heads_share_one_analysis_and_agree(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    analyzer = CountingAnalyzer(monkeypatch)
    atlas = atlases["tiny"]
    upload_id = _upload(client, _image(planted_image_dir, "green_red"))
    everything = atlas.n_layers * atlas.n_heads * atlas.n_modes
    for basis in ("faithful", "exact"):
        ranked = _model_modes(client, upload_id, atlas, basis=basis, limit=everything)["modes"]
        for layer, head in itertools.product(range(atlas.n_layers), range(atlas.n_heads)):
            url = f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/{layer}/heads/{head}"
            of_head = client.get(url, params={"basis": basis}).json()["modes"]
            # The head's modes, in the order and with the numbers the whole model lists them.
            in_model = [m for m in ranked if (m["layer"], m["head"]) == (layer, head)]
            fields = ("mode", "sign", "contribution", "pos_score", "neg_score", "sigma")
            assert [{f: m[f] for f in fields} for m in in_model] == [{f: m[f] for f in fields} for m in of_head]
    assert analyzer.calls == 1


def test_unknown_upload_or_model_is_404_and_a_bad_limit_or_basis_422(
    client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    atlas = atlases["tiny"]
    upload_id = _upload(client, _image(planted_image_dir, "red"))
    url = f"/api/uploads/{upload_id}/models/{atlas.slug}/modes"
    unknown_upload = client.get(f"/api/uploads/{'0' * 32}/models/{atlas.slug}/modes")
    assert unknown_upload.status_code == 404 and "no such upload" in unknown_upload.json()["detail"]
    unknown_model = client.get(f"/api/uploads/{upload_id}/models/nope/modes")
    assert unknown_model.status_code == 404 and "no model 'nope'" in unknown_model.json()["detail"]
    for limit in (0, 201, -1, "ten"):
        response = client.get(url, params={"limit": limit})
        assert response.status_code == 422, limit
        assert response.json()["detail"][0]["loc"] == ["query", "limit"]
    assert client.get(url, params={"basis": "both"}).status_code == 422
    assert len(client.get(url, params={"limit": 200}).json()["modes"]) == atlas.n_layers * atlas.n_heads * atlas.n_modes
    assert len(client.get(url, params={"limit": 1}).json()["modes"]) == 1


def test_a_model_that_cannot_be_loaded_is_503(
    monkeypatch: pytest.MonkeyPatch, make_client: AppFactory, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    def broken(_source: ModelSource) -> NoReturn:
        raise OSError("/secret/path/checkpoint missing")

    monkeypatch.setattr(analyzers_service, "load_model_from_source", broken)
    client = make_client()
    upload_id = _upload(client, _image(planted_image_dir, "red"))
    response = client.get(f"/api/uploads/{upload_id}/models/{atlases['tiny'].slug}/modes")
    assert response.status_code == 503
    assert "/secret" not in response.text and "cannot be loaded" in response.json()["detail"]
