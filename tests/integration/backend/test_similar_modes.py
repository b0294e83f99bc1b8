"""Similar modes (``GET …/modes/{n}/similar``) against a numpy brute force: ``np.corrcoef`` of every pair
of class-mean columns over the classes with scored images, on atlases built by the job (the planted
model and a tiny ViT over the planted images, one dataset), an edited copy with ties, a NaN and a constant
column, and atlases that must not be compared (another dataset, the same dataset name over other images)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.services.similar_modes import _too_few
from qkatlas.atlas import Atlas, find_atlases
from qkatlas.conventions import SIGNS
from qkatlas.mode_statistics import NOISE_FLOOR
from tests.helpers.atlases import TINY_OVERRIDES, TINY_VIT, build_atlas
from tests.helpers.backend import AppFactory

QUERY = {"layer": 0, "head": 0, "mode": 0, "sign": "pos"}  # the planted red → blue mode


def _copy(atlas: Path, root: Path, slug: str) -> Path:
    """A copy of an atlas served under another slug."""
    copy = root / slug
    shutil.copytree(atlas, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["slug"] = slug
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def _column(atlas: Atlas, layer: int, head: int, mode: int, sign: str) -> int:
    return ((layer * atlas.n_heads + head) * atlas.n_modes + mode) * 2 + SIGNS.index(sign)


@pytest.fixture(scope="module")
def similar_root(atlas_root: Path, planted_image_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's two atlases, the tiny ViT over the planted images, an edited copy of it, a copy of the
    planted atlas whose image records differ, and one without statistics."""
    root = tmp_path_factory.mktemp("similar") / "atlases"
    shutil.copytree(atlas_root, root)
    loaded = {a.model_slug: a for a in find_atlases(root)[0]}
    planted = loaded["planted"]
    tiny_photos = next(a for a in loaded.values() if a.model_slug != "planted")
    build_atlas(root, TINY_VIT, planted_image_dir, "--random-init", "--top-k", "3", "--batch-size", "8",
                overrides=TINY_OVERRIDES)  # fmt: skip
    tiny_planted = next(a for a in find_atlases(root)[0] if a.model_slug != "planted" and a.slug != tiny_photos.slug)
    # Ties, a NaN and a constant column, in a copy of the tiny ViT on the planted images (basis 0).
    edited = _copy(tiny_planted.path, root, "edited-tiny__" + planted.slug.split("__")[1])
    query_means = np.asarray(planted.arrays["class_mean"][(slice(None), 0, 0, 0, 0, 0)], dtype=np.float32)  # [C]
    class_mean = np.load(edited / "stats" / "class_mean.npy")
    class_mean[:, 0, 1, 2, 3, 1] = query_means  # r = 1 ...
    class_mean[:, 0, 1, 0, 5, 0] = query_means  # ... twice: a tie, listed by position (L1 H0 M5 first)
    class_mean[:, 0, 0, 1, 1, 0] = query_means
    class_mean[0, 0, 0, 1, 1, 0] = np.nan  # would be r ≈ 1, but not all finite: left out
    class_mean[:, 0, 0, 2, 2, 0] = 3.5  # constant: left out
    class_mean[:, 0, 0, 2, 3, 0] = 3.5
    class_mean[1, 0, 0, 2, 3, 0] = 3.5 * (1 + 1e-8)  # constant up to rounding (float32 keeps 3.5): left out
    np.save(edited / "stats" / "class_mean.npy", class_mean)
    sigma = np.load(edited / "svd" / "sigma.npy")
    sigma[1, 2, -1] = 0.0  # inactive (as the reader derives it: σ = 0): both signs left out
    np.save(edited / "svd" / "sigma.npy", sigma)
    # The same dataset name, but one image record differs: never compared.
    other = _copy(planted.path, root, "planted-other-images__" + planted.slug.split("__")[1])
    images = json.loads((other / "images.json").read_text())
    first = sorted(images, key=int)[0]
    images[first]["source"] = "elsewhere/" + images[first]["source"]
    (other / "images.json").write_text(json.dumps(images))
    # No statistics.
    bare = _copy(tiny_photos.path, root, "bare-tiny__" + tiny_photos.slug.split("__")[1])
    manifest = json.loads((bare / "manifest.json").read_text())
    manifest["format_version"] = 1
    del manifest["statistics"]
    (bare / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(bare / "stats")
    return root


@pytest.fixture
def similar_client(make_client: AppFactory, similar_root: Path) -> TestClient:
    return make_client(atlas_dir=similar_root)


def _brute_force(query: Atlas, other: Atlas, at: dict[str, Any], axis: int, limit: int) -> list[tuple[float, str]]:
    """Every usable column's ``np.corrcoef`` with the query over the classes with images, best first (ties by
    position), as ``(r, "L H M sign")``."""
    assert query.statistics is not None
    rows = np.flatnonzero(query.statistics.class_sizes() > 0)
    q = np.asarray(query.arrays["class_mean"][(slice(None), axis, at["layer"], at["head"], at["mode"],
                                               SIGNS.index(at["sign"]))], dtype=np.float64)[rows]  # fmt: skip
    found = []
    sigma = np.asarray(other.arrays["sigma"])
    for layer in range(other.n_layers):
        for head in range(other.n_heads):
            for mode in range(other.n_modes):
                for s, sign in enumerate(SIGNS):
                    name = f"{layer} {head} {mode} {sign.value}"
                    if other.slug == query.slug and name == f"{at['layer']} {at['head']} {at['mode']} {at['sign']}":
                        continue
                    y = np.asarray(other.arrays["class_mean"][:, axis, layer, head, mode, s], dtype=np.float64)[rows]
                    if sigma[layer, head, mode] <= 0 or not np.isfinite(y).all():
                        continue
                    if y.std() <= NOISE_FLOOR * np.abs(y).max():
                        continue
                    found.append((float(np.corrcoef(q, y)[0, 1]), _column(other, layer, head, mode, sign.value), name))
    found.sort(key=lambda entry: (-entry[0], entry[1]))
    return [(r, name) for r, _, name in found[:limit]]


def _evidence(atlas: Atlas, layer: int, head: int, mode: int, sign: str) -> set[int]:
    """The listed top images, straight from the arrays and the noise-floor rule."""
    at = (0, layer, head, mode, SIGNS.index(sign))
    if np.asarray(atlas.arrays["sigma"])[layer, head, mode] <= 0:
        return set()
    scores = np.asarray(atlas.arrays["topk_scores"][(0, layer)], dtype=np.float64)
    floor = NOISE_FLOOR * np.nanmax(np.abs(scores))
    return {
        int(i)
        for i, s in zip(atlas.arrays["topk_indices"][at], atlas.arrays["topk_scores"][at], strict=True)
        if i >= 0 and s > floor and s > 0
    }


def test_similar_modes_match_a_numpy_brute_force(similar_client: TestClient, similar_root: Path) -> None:
    served = {a.slug: a for a in find_atlases(similar_root)[0]}
    planted = next(a for a in served.values() if a.slug.startswith("planted__"))
    body = similar_client.get(f"/api/models/{planted.slug}/layers/0/heads/0/modes/0/similar",
                              params={"sign": "pos", "limit": 6}).json()  # fmt: skip
    peers = sorted(s for s in served if s != planted.slug and s.split("__")[1] == planted.slug.split("__")[1])
    compared = [m["model"] for m in body["models"]]
    assert compared[0] == planted.slug
    assert sorted(compared[1:]) == compared[1:]
    assert set(compared[1:]) == {s for s in peers if not s.startswith("planted-other-images")}
    assert any(s.startswith("planted-other-images") for s in body["other_datasets"])
    assert all(s.split("__")[1] != planted.slug.split("__")[1] for s in body["other_datasets"] if "other" not in s)
    assert body["n_classes"] == int((planted.statistics.class_sizes() > 0).sum())  # type: ignore[union-attr]
    assert body["too_few"] is not None and body["unavailable"] is None  # the planted set has a handful of classes
    query_evidence = _evidence(planted, 0, 0, 0, "pos")
    assert body["top_images"] == len(query_evidence)
    for model in body["models"]:
        other = served[model["model"]]
        expected = _brute_force(planted, other, QUERY, 0, 6)
        got = [(m["correlation"], f"{m['layer']} {m['head']} {m['mode']} {m['sign']}") for m in model["modes"]]
        assert [name for _, name in got] == [name for _, name in expected], model["model"]
        np.testing.assert_allclose([r for r, _ in got], [r for r, _ in expected], rtol=0, atol=1e-9)
        for entry in model["modes"]:
            evidence = _evidence(other, entry["layer"], entry["head"], entry["mode"], entry["sign"])
            assert entry["top_images"] == len(evidence)
            assert entry["shared_top_images"] == len(evidence & query_evidence)
            assert entry["sigma"] == pytest.approx(float(other.arrays["sigma"][entry["layer"], entry["head"],
                                                                                entry["mode"]]))  # fmt: skip
    edited = next(m for m in body["models"] if m["model"].startswith("edited-tiny"))
    names = [f"{m['layer']} {m['head']} {m['mode']} {m['sign']}" for m in edited["modes"]]
    assert names[:2] == ["1 0 5 pos", "1 2 3 neg"]  # the tie at r = 1, by position
    assert edited["modes"][0]["correlation"] == pytest.approx(1.0, abs=1e-12)
    assert not {"0 1 1 pos", "0 2 2 pos", "0 2 3 pos"} & set(names)  # NaN and constant columns left out
    tiny = next(m for m in body["models"] if m["model"].startswith("vit_tiny"))
    assert edited["compared"] == tiny["compared"] - 5


def test_an_atlas_without_statistics_or_an_inactive_mode_says_why(
    similar_client: TestClient, similar_root: Path
) -> None:
    served = {a.slug: a for a in find_atlases(similar_root)[0]}
    bare = next(s for s in served if s.startswith("bare-tiny"))
    body = similar_client.get(f"/api/models/{bare}/layers/0/heads/0/modes/0/similar").json()
    assert "rebuild" in body["unavailable"] and body["models"] == []
    photos = next(s for s in served if s.startswith("vit_tiny") and s.split("__")[1] == bare.split("__")[1])
    assert (
        bare
        in similar_client.get(f"/api/models/{photos}/layers/0/heads/0/modes/0/similar").json()["missing_statistics"]
    )
    edited = next(s for s in served if s.startswith("edited-tiny"))
    last = served[edited].n_modes - 1
    body = similar_client.get(f"/api/models/{edited}/layers/1/heads/2/modes/{last}/similar").json()
    assert "inactive" in body["unavailable"] and body["models"] == []
    body = similar_client.get(f"/api/models/{edited}/layers/0/heads/2/modes/2/similar").json()
    assert "constant" in body["unavailable"]
    assert (
        "no class labels"
        in similar_client.get(f"/api/models/{photos}/layers/0/heads/0/modes/0/similar").json()["unavailable"]
    )
    planted = next(s for s in served if s.startswith("planted__"))
    assert similar_client.get(f"/api/models/{planted}/layers/0/heads/0/modes/0/similar?limit=0").status_code == 422


def test_too_few_classes_or_images_per_class_are_flagged() -> None:
    assert "only 7 classes" in (_too_few(7, 4) or "")
    assert "at most 1 image " in (_too_few(1000, 1) or "")  # the 1,000-photo demo
    assert "at most 4 images" in (_too_few(20, 4) or "")
    assert _too_few(20, 5) is None and _too_few(1000, 50) is None
