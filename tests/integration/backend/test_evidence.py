"""No false evidence: a mode lists only the top images whose score is above the noise floor, each with
whether it fires (docs/method.md#evidence-and-firing), checked against the raw atlas arrays."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qkatlas.atlas import Atlas
from qkatlas.conventions import SIGNS
from qkatlas.mode_statistics import NOISE_FLOOR
from qkatlas.models.planted import PLANTED_MODES


def _mode_url(atlas: Atlas, layer: int, head: int, mode: int) -> str:
    return f"/api/models/{atlas.slug}/layers/{layer}/heads/{head}/modes/{mode}"


def _expected(atlas: Atlas, axis: int, layer: int, head: int, mode: int, sign: int) -> tuple[list[Any], int]:
    """From the stored arrays alone: the evidence slots as ``(rank, dataset index, fires)`` and how many
    filled slots are not evidence."""
    scores = np.asarray(atlas.arrays["topk_scores"], dtype=np.float64)
    floor = NOISE_FLOOR * np.abs(scores[axis, layer]).max()
    at = (axis, layer, head, mode, sign)
    indices, slot_scores = atlas.arrays["topk_indices"][at], scores[at]
    filled = indices >= 0 if atlas.sigma_all[layer, head, mode] > 0 else np.zeros_like(indices, dtype=bool)
    query, key = atlas.arrays["maps_query"][at], atlas.arrays["maps_key"][at]
    evidence = filled & (slot_scores > floor) & (slot_scores > 0)
    fires = (query.reshape(len(indices), -1).max(axis=1) > 0) & (key.reshape(len(indices), -1).max(axis=1) > 0)
    shown = [(rank, int(indices[rank]), bool(fires[rank])) for rank in np.flatnonzero(evidence)]
    return shown, int(filled.sum()) - len(shown)


@pytest.mark.parametrize("role", ["planted", "tiny"])
def test_every_signed_mode_lists_exactly_its_evidence_and_whether_each_fires(
    client: TestClient, atlases: dict[str, Atlas], role: str
) -> None:
    atlas = atlases[role]
    n_shown = n_left_out = n_quirk = 0
    for (axis, basis), layer, head, mode, (sign_axis, sign) in itertools.product(
        enumerate(atlas.bases), range(atlas.n_layers), range(atlas.n_heads), range(atlas.n_modes), enumerate(SIGNS)
    ):
        body = client.get(_mode_url(atlas, layer, head, mode), params={"basis": basis, "sign": sign}).json()
        shown, left_out = _expected(atlas, axis, layer, head, mode, sign_axis)
        where = (basis, layer, head, mode, sign)
        assert [(t["rank"], t["dataset_index"], t["fires"]) for t in body["top_images"]] == shown, where
        assert body["left_out"] == left_out, where
        assert all(t["score"] > 0 for t in body["top_images"]), where
        n_shown, n_left_out = n_shown + len(shown), n_left_out + left_out
        n_quirk += sum(not fires for *_, fires in shown)
    if role == "planted":
        # The planted model's filler modes read directions no token uses: only its planted modes (and
        # their neighbours in the same colours) have evidence, and the quirk wins no slot above the floor.
        assert n_left_out > n_shown > 0 and n_quirk == 0


def test_a_planted_mode_lists_images_that_fire(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["planted"]
    for planted, basis in itertools.product(PLANTED_MODES, atlas.bases):
        url = _mode_url(atlas, planted.layer, planted.head, planted.mode)
        body = client.get(url, params={"basis": basis, "sign": planted.sign}).json()
        assert len(body["top_images"]) == atlas.top_k and body["left_out"] == 0
        assert all(t["fires"] for t in body["top_images"])


def test_a_mode_that_never_fires_lists_no_image_and_is_flagged(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["planted"]
    layer, head, mode = 0, 0, 2  # a filler mode: its direction is one no token of the planted images uses
    url = _mode_url(atlas, layer, head, mode)
    body = client.get(url, params={"basis": "faithful", "sign": "pos"}).json()
    assert body["top_images"] == [] and body["left_out"] == atlas.top_k
    assert body["distribution"]["never_fires"] is True
    # No overlay or maps for a rank the page does not list.
    assert client.get(f"{url}/top/0/maps", params={"basis": "faithful"}).status_code == 404
    assert client.get(f"{url}/top/0/overlay.png", params={"basis": "faithful"}).status_code == 404

    head_body = client.get(f"/api/models/{atlas.slug}/layers/{layer}/heads/{head}").json()
    row = head_body["modes"][mode]
    assert row["never_fires"] == {"pos": True, "neg": True}
    assert row["best_image"] == {"pos": None, "neg": None}
    planted = next(m for m in head_body["modes"] if m["mode"] == 0)
    assert planted["never_fires"]["pos"] is False and planted["best_image"]["pos"] is not None


def test_upload_rankings_carry_the_flag_and_the_model_ranking_has_no_zero_contributions(
    client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    atlas = atlases["planted"]
    data = next(planted_image_dir.glob("red_blue_green/*.png")).read_bytes()
    upload_id = client.post("/api/uploads", files={"file": ("image.png", data, "image/png")}).json()["id"]
    firing = np.asarray(atlas.arrays["stats_firing"])
    for axis, basis in enumerate(atlas.bases):
        url = f"/api/uploads/{upload_id}/models/{atlas.slug}/modes"
        modes = client.get(url, params={"basis": basis, "limit": 200}).json()["modes"]
        planted = {(m.layer, m.head, m.mode) for m in PLANTED_MODES}
        assert planted <= {(m["layer"], m["head"], m["mode"]) for m in modes}
        # 200 would list every mode of the model: only those that contribute are there.
        assert 0 < len(modes) < atlas.n_layers * atlas.n_heads * atlas.n_modes
        scores = np.asarray(atlas.arrays["topk_scores"], dtype=np.float64)
        for m in modes:
            floor = NOISE_FLOOR * np.abs(scores[axis, m["layer"]]).max()
            assert m["contribution"] > 0 and max(m["pos_score"], m["neg_score"]) > floor
            at = (axis, m["layer"], m["head"], m["mode"], SIGNS.index(m["sign"]))
            assert m["never_fires"] == bool(firing[at] == 0)
        head = client.get(f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/0/heads/0", params={"basis": basis})
        for m in head.json()["modes"]:
            at = (axis, 0, 0, m["mode"], SIGNS.index(m["sign"]))
            assert m["never_fires"] == (bool(firing[at] == 0) if m["active"] else None)
