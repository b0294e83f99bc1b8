"""`GET …/layers/{l}/heads/{h}/ablation` for uploads and dataset images: the rows against a numpy softmax of the
atlas's stored modes, the planted red → blue mode, the answer's shape, caching, the queue, and bad mode sets."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

import backend.services.analysis.runner as runner
from qkatlas.atlas import Atlas
from qkatlas.images import to_model_input
from qkatlas.models import load_model
from qkatlas.models.planted import read_planted_index
from tests.helpers.backend import CountingAnalyzer
from tests.integration.backend.test_analysis_scaling import _app, _http
from tests.integration.backend.test_analysis_scaling import _upload as _upload_async


def _planted_upload(client: TestClient, planted_image_dir: Path) -> tuple[str, bytes, list[tuple[int, int]], Any]:
    """An upload of the first red + blue planted image: id, bytes, and its red and blue cells."""
    record = next(r for r in read_planted_index(planted_image_dir) if r.description == "red + blue")
    data = (planted_image_dir / record.path).read_bytes()
    response = client.post("/api/uploads", files={"file": ("planted.png", data, "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["id"], data, record.cells["red"], record.cells["blue"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    probabilities: np.ndarray = shifted / shifted.sum()
    return probabilities


def test_removing_the_planted_mode_matches_a_numpy_softmax_of_the_stored_modes(
    client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    atlas = atlases["planted"]
    upload_id, data, red, blue = _planted_upload(client, planted_image_dir)
    query_patch = red[0][0] * atlas.grid + red[0][1]
    url = f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/0/heads/0/ablation"
    response = client.get(url, params={"remove": "0", "query_patch": query_patch})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["removed"] == [0] and body["keep_top"] is None and body["image"] == upload_id
    # Brute force: the tokens the planted model feeds block 0, and the atlas's stored u, v, σ (the planted
    # model has no q/k biases, so the exact basis's query offsets are 0).
    model = load_model("planted")
    image = to_model_input(Image.open(io.BytesIO(data)), atlas.manifest.preprocessing)
    captured: dict[int, torch.Tensor] = {}

    def keep(layer: int, _residual: torch.Tensor, normed: torch.Tensor) -> None:
        captured[layer] = normed[0]

    model.run_with_capture(model.normalize(image.unsqueeze(0)), keep)
    tokens = captured[0].double().numpy()  # [N, d]
    vectors = [atlas.mode_vectors(0, 0, n) for n in range(atlas.n_modes)]
    u = np.stack([v[0] for v in vectors]).astype(np.float64)
    v = np.stack([v[1] for v in vectors]).astype(np.float64)
    sigma = atlas.sigma(0, 0).astype(np.float64)
    terms = sigma * (u @ tokens[1 + query_patch]) * (tokens @ v.T) / np.sqrt(model.spec.d_head)  # [N, M]
    np.testing.assert_allclose(body["row_before"], _softmax(terms.sum(axis=1)), atol=1e-4)
    np.testing.assert_allclose(body["row_after"], _softmax(terms[:, 1:].sum(axis=1)), atol=1e-4)
    # The planted mode: red attends to blue, and no longer once it is removed.
    blue_keys = [row * atlas.grid + col for row, col in blue]
    before, after = np.asarray(body["patch_before"]).ravel(), np.asarray(body["patch_after"]).ravel()
    assert before[blue_keys].sum() > 0.9 and after[blue_keys].sum() < 0.25
    moved = np.asarray(body["moved"])
    assert moved.shape == (atlas.grid, atlas.grid) and moved[red[0]] > 0.7
    assert body["mean_moved"] == pytest.approx(moved.mean())
    assert len(body["moved_prefix"]) == 1 and body["prefix_kinds"] == ["cls"]
    # The planted model's attention writes nothing to the residual: its output cannot change.
    assert body["embedding_cosine"] == pytest.approx(1.0, abs=1e-6)
    assert body["has_classifier"] is False and body["top_before"] == [] and body["top_after"] == []


def test_dataset_image_keep_top_and_the_classifier(client: TestClient, atlases: dict[str, Atlas]) -> None:
    atlas = atlases["tiny"]  # a random-init timm ViT: a random ImageNet classifier
    url = f"/api/models/{atlas.slug}/images/{atlas.slug}~0/layers/1/heads/2/ablation"
    response = client.get(url, params={"keep_top": 2, "query_patch": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["removed"] == list(range(2, atlas.n_modes)) and body["keep_top"] == 2
    assert body["image"] == f"{atlas.slug}~0" and body["random_weights"] is True
    n_keys = 1 + atlas.grid**2
    assert len(body["row_before"]) == len(body["row_after"]) == n_keys
    assert sum(body["row_after"]) == pytest.approx(1.0, abs=1e-5)
    assert body["has_classifier"] is True and len(body["top_before"]) == len(body["top_after"]) == 5
    before = [c["before"] for c in body["top_before"]]
    after = [c["after"] for c in body["top_after"]]
    assert before == sorted(before, reverse=True) and after == sorted(after, reverse=True)
    assert all(isinstance(c["label"], str) and c["label"] for c in body["top_before"])
    assert min(min(row) for row in body["moved"]) >= 0.0 and max(max(row) for row in body["moved"]) <= 1.0


def test_an_ablation_is_computed_once_per_removed_set_and_query_patch(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    calls: list[tuple[Any, ...]] = []
    ablate = runner.ablate  # type: ignore[attr-defined]  # the name the runner calls

    def counting(*args: Any) -> Any:
        calls.append(args[3:])
        return ablate(*args)

    monkeypatch.setattr(runner, "ablate", counting)
    atlas = atlases["planted"]
    upload_id, *_ = _planted_upload(client, planted_image_dir)
    url = f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/0/heads/0/ablation"
    first = client.get(url, params={"remove": "1,0", "query_patch": 4}).json()
    assert first["removed"] == [0, 1]
    assert client.get(url, params={"remove": "0,1", "query_patch": 4}).json() == first
    assert len(calls) == 1
    client.get(url, params={"remove": "0,1", "query_patch": 5})
    client.get(url, params={"remove": "0", "query_patch": 4})
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"query_patch": 0}, 422, "exactly one of"),
        ({"remove": "0", "keep_top": 1, "query_patch": 0}, 422, "exactly one of"),
        ({"remove": "", "query_patch": 0}, 422, "not a list of mode numbers"),
        ({"remove": "a,1", "query_patch": 0}, 422, "not a list of mode numbers"),
        ({"remove": "-1", "query_patch": 0}, 422, "not a list of mode numbers"),
        ({"remove": "2,2", "query_patch": 0}, 422, "twice"),
        ({"remove": "16", "query_patch": 0}, 422, "no mode 16"),
        ({"keep_top": 16, "query_patch": 0}, 422, "removes none"),
        ({"remove": "0", "query_patch": 64}, 404, "no query patch 64"),
    ],
)
def test_bad_requests_say_what_is_wrong(
    client: TestClient,
    atlases: dict[str, Atlas],
    planted_image_dir: Path,
    params: dict[str, Any],
    status: int,
    words: str,
) -> None:
    atlas = atlases["planted"]  # 16 active modes per head, an 8 × 8 grid
    upload_id, *_ = _planted_upload(client, planted_image_dir)
    for url in (
        f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/0/heads/0/ablation",
        f"/api/models/{atlas.slug}/images/{atlas.slug}~0/layers/0/heads/0/ablation",
    ):
        response = client.get(url, params=params)
        assert response.status_code == status, response.text
        assert words in response.json()["detail"]
    assert client.get(url, params={"remove": "0", "query_patch": 0}).status_code == 200
    missing_head = f"/api/models/{atlas.slug}/images/{atlas.slug}~0/layers/0/heads/9/ablation"
    assert client.get(missing_head, params={"remove": "0", "query_patch": 0}).status_code == 404


def test_a_full_analysis_queue_refuses_an_ablation_with_retry_after(
    monkeypatch: pytest.MonkeyPatch, atlas_root: Path, atlases: dict[str, Atlas], planted_image_dir: Path
) -> None:
    analyzer = CountingAnalyzer(monkeypatch, hold=True)
    app = _app(atlas_root, analysis_workers=1, analysis_queue=1)
    atlas = atlases["planted"]
    data = next(planted_image_dir.glob("red_blue/*.png")).read_bytes()

    async def scenario() -> None:
        async with _http(app) as http:
            base = f"/api/uploads/{await _upload_async(http, data)}/models/{atlas.slug}/layers/0/heads/0"
            running = asyncio.ensure_future(http.get(base))
            await analyzer.wait_started()
            busy = await http.get(f"{base}/ablation", params={"remove": "0", "query_patch": 0})
            assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1
            analyzer.released.set()
            assert (await running).status_code == 200
            assert (await http.get(f"{base}/ablation", params={"remove": "0", "query_patch": 0})).status_code == 200

    asyncio.run(scenario())
