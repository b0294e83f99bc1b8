"""Finding modes through the API: statistics on the mode page, the mode index (sorted, filtered and
paged on the server), search by name and by class, one class across models, and atlases without
statistics. References are computed here from the atlas's arrays with plain Python."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qkatlas.atlas import Atlas
from qkatlas.conventions import SIGNS
from qkatlas.models.planted import PLANTED_MODES
from tests.helpers.backend import AppFactory

SORT_KEYS = ("position", "sigma", "sigma_share", "cos", "best_score", "mean", "std", "firing", "selectivity", "effect")


def _reference_rows(atlas: Atlas, axis: int = 0) -> list[dict[str, Any]]:
    """Every signed mode of basis ``axis`` with its index values, straight from the arrays."""
    arrays, rows = atlas.arrays, []
    classes = atlas.statistics.classes if atlas.statistics else ()
    for layer in range(atlas.n_layers):
        for head in range(atlas.n_heads):
            sigma = np.asarray(arrays["sigma"][layer, head], dtype=float)
            for mode in range(atlas.n_modes):
                for s, sign in enumerate(SIGNS):
                    at = (axis, layer, head, mode, s)
                    active = bool(sigma[mode] > 0)
                    top = int(arrays["class_top"][at][0]) if classes else -1
                    rows.append(
                        {
                            "layer": layer,
                            "head": head,
                            "mode": mode,
                            "sign": sign.value,
                            "sigma": float(sigma[mode]),
                            "sigma_share": float(sigma[mode] / sigma.sum()) if sigma.sum() > 0 else 0.0,
                            "cos": float(arrays["cos"][layer, head, mode]),
                            "degenerate": bool(arrays["degenerate"][layer, head, mode]),
                            "active": active,
                            "best_score": float(arrays["topk_scores"][(*at, 0)]) if active else None,
                            "mean": float(arrays["stats_mean"][at]),
                            "std": float(arrays["stats_std"][at]),
                            "firing": int(arrays["stats_firing"][at]),
                            "selectivity": float(arrays["class_top_selectivity"][at][0]) if top >= 0 else None,
                            "top_class": classes[top] if top >= 0 else None,
                            "effect": float(arrays["effects_mean"][layer, head, mode]),
                        }
                    )
    return rows


def _all_pages(client: TestClient, atlas: Atlas, limit: int = 7, **params: Any) -> tuple[int, list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    total = None
    while total is None or len(rows) < total:
        page = client.get(f"/api/models/{atlas.slug}/modes", params={**params, "offset": len(rows), "limit": limit})
        assert page.status_code == 200, page.text
        body = page.json()
        total = body["total"]
        assert body["rows"] or total == len(rows), "a page before the end is never empty"
        rows.extend(body["rows"])
    return total, rows


def _key(row: dict[str, Any]) -> tuple[int, int, int, int]:
    return (row["layer"], row["head"], row["mode"], SIGNS.index(row["sign"]) if isinstance(row["sign"], str) else 0)


@pytest.mark.parametrize("sort", SORT_KEYS)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_the_index_sorts_every_column_like_python_with_nulls_last(
    client: TestClient, atlases: dict[str, Atlas], sort: str, order: str
) -> None:
    atlas = atlases["tiny"]
    reference = [row for row in _reference_rows(atlas) if row["active"]]
    if sort == "position":
        expected = sorted(reference, key=_key, reverse=order == "desc")
    else:
        present = [row for row in reference if row[sort] is not None]
        ordered = sorted(present, key=lambda row: (row[sort] if order == "asc" else -row[sort], _key(row)))
        expected = ordered + [row for row in reference if row[sort] is None]
    total, rows = _all_pages(client, atlas, sort=sort, order=order)
    assert total == len(reference)
    assert [_key(row) for row in rows] == [_key(row) for row in expected]
    by_key = {_key(row): row for row in reference}
    for row in rows[:20]:
        for name, value in by_key[_key(row)].items():
            assert row[name] == pytest.approx(value, rel=1e-6) if isinstance(value, float) else row[name] == value


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"layer": 1}, lambda row: row["layer"] == 1),
        ({"layer": 0, "head": 1, "sign": "neg"}, lambda row: (row["layer"], row["head"], row["sign"]) == (0, 1, "neg")),
        ({"degenerate": True}, lambda row: row["degenerate"]),
        ({"never_fires": False}, lambda row: row["firing"] > 0),
        ({"never_fires": True}, lambda row: row["firing"] == 0),
        ({"top_class": "red b"}, lambda row: row["top_class"] is not None and "red_b" in row["top_class"]),
        ({"min_selectivity": 1.0}, lambda row: row["selectivity"] is not None and row["selectivity"] >= 1.0),
        ({"min_effect": 0.01}, lambda row: row["effect"] >= 0.01),
        ({"include_inactive": True}, lambda row: True),
    ],
)  # fmt: skip
def test_the_index_filters_like_python(
    client: TestClient, atlases: dict[str, Atlas], params: dict[str, Any], keep: Any
) -> None:
    atlas = atlases["planted"]  # class labels, weak and planted modes
    include_inactive = params.get("include_inactive", False)
    expected = [row for row in _reference_rows(atlas) if (row["active"] or include_inactive) and keep(row)]
    total, rows = _all_pages(client, atlas, limit=50, **params)
    assert total == len(expected)
    assert [_key(row) for row in rows] == [_key(row) for row in expected]


def test_the_index_validates_its_query(client: TestClient, atlases: dict[str, Atlas]) -> None:
    url = f"/api/models/{atlases['tiny'].slug}/modes"
    assert client.get(url, params={"sort": "colour"}).status_code == 422
    assert client.get(url, params={"limit": 0}).status_code == 422
    assert client.get(url, params={"limit": 501}).status_code == 422
    assert client.get("/api/models/nope/modes").status_code == 404
    past = client.get(url, params={"offset": 10_000}).json()
    assert past["rows"] == [] and past["total"] > 0


def test_the_mode_page_carries_the_distribution_and_class_profile(
    client: TestClient, atlases: dict[str, Atlas]
) -> None:
    atlas = atlases["planted"]
    planted = PLANTED_MODES[0]  # red → blue
    body = client.get(
        f"/api/models/{atlas.slug}/layers/{planted.layer}/heads/{planted.head}/modes/{planted.mode}"
    ).json()
    distribution, profile = body["distribution"], body["class_profile"]
    assert body["statistics_missing"] is None
    assert sum(distribution["counts"]) == distribution["count"] == atlas.manifest.dataset.n_images
    assert len(distribution["edges"]) == len(distribution["counts"]) - 1
    assert distribution["minimum"] <= min(image["score"] for image in body["top_images"])
    assert max(image["score"] for image in body["top_images"]) == pytest.approx(distribution["maximum"], rel=1e-6)
    assert not distribution["never_fires"] and distribution["firing"] > 0
    # Only images holding both red and blue fire the red → blue mode, and they are its most selective classes.
    assert profile["top_classes"][0]["label"].startswith("red_blue")
    assert all("red" in c["label"] and "blue" in c["label"] for c in profile["top_classes"] if c["selectivity"] > 0)
    labels = Counter(image["label"] for image in body["top_images"])
    assert {item["label"]: item["count"] for item in profile["top_k_labels"]} == labels


def test_searching_a_class_puts_the_planted_modes_first(client: TestClient, atlases: dict[str, Atlas]) -> None:
    planted = atlases["planted"]
    for query, (layer, head, mode) in (("red_blue", (0, 0, 0)), ("Green red", (1, 0, 0)), ("red blue", (0, 0, 0))):
        body = client.get("/api/search", params={"q": query}).json()
        first = body["class_modes"][0]
        assert first["label"] == query.lower().replace(" ", "_")
        found = first["mode"]
        assert (found["model"], found["layer"], found["head"], found["mode"], found["sign"]) == (
            planted.slug, layer, head, mode, "pos"
        )  # fmt: skip
        thumbnail = client.get(found["top_images"][0]["thumbnail_url"])
        assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    partial = client.get("/api/search", params={"q": "blu"}).json()
    assert {c["label"] for c in partial["classes"]} == {"blue", "red_blue", "red_blue_green"}


def test_searching_by_name(client: TestClient, atlases: dict[str, Atlas]) -> None:
    planted, tiny = atlases["planted"], atlases["tiny"]

    def names(query: str) -> list[tuple[Any, ...]]:
        body = client.get("/api/search", params={"q": query}).json()
        return [(n["kind"], n["model"], n["layer"], n["head"], n["mode"], n["sign"]) for n in body["names"]]

    assert names("planted L1 H0 M3") == [("mode", planted.slug, 1, 0, 3, None)]
    assert names("planted l1h0m3 neg") == [("mode", planted.slug, 1, 0, 3, "neg")]
    assert names("layer 1 head 1") == [("head", planted.slug, 1, 1, None, None), ("head", tiny.slug, 1, 1, None, None)]
    assert names("L1") == [("layer", planted.slug, 1, None, None, None), ("layer", tiny.slug, 1, None, None, None)]
    assert names("vit_tiny") == [("model", tiny.slug, None, None, None, None)]
    assert names("L7") == [] and names("planted L0 H9") == []  # out of range: nothing, not an error
    assert client.get("/api/search", params={"q": ""}).status_code == 422
    assert client.get("/api/search", params={"q": "x" * 201}).status_code == 422


def test_a_class_across_models(client: TestClient, atlases: dict[str, Atlas]) -> None:
    body = client.get("/api/classes/Red Blue").json()
    assert [m["model"] for m in body["models"]] == [atlases["planted"].slug]
    assert body["without_class"] == [atlases["tiny"].slug]  # photos without labels
    best = body["models"][0]["modes"][0]
    assert (best["mode"]["layer"], best["mode"]["head"], best["mode"]["mode"], best["mode"]["sign"]) == (0, 0, 0, "pos")
    selectivities = [m["selectivity"] for m in body["models"][0]["modes"]]
    assert selectivities == sorted(selectivities, reverse=True)
    assert client.get("/api/classes/zebra").status_code == 404


def test_an_atlas_without_statistics_is_served_and_says_so(
    tmp_path: Path, make_client: AppFactory, atlases: dict[str, Atlas]
) -> None:
    old = tmp_path / atlases["planted"].path.name
    shutil.copytree(atlases["planted"].path, old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format_version"] = 1
    del manifest["statistics"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(old / "stats")
    client = make_client(atlas_dir=tmp_path)
    summary = client.get("/api/models").json()[0]
    assert summary["statistics"]["computed"] is False and "rebuild" in summary["statistics"]["note"]
    mode = client.get(f"/api/models/{old.name}/layers/0/heads/0/modes/0").json()
    assert mode["distribution"] is None and mode["class_profile"] is None and "rebuild" in mode["statistics_missing"]
    assert len(mode["top_images"]) == atlases["planted"].top_k  # everything else as before
    index = client.get(f"/api/models/{old.name}/modes", params={"sort": "mean"}).json()
    assert index["statistics_missing"] and all(row["mean"] is None for row in index["rows"])
    assert index["rows"][0]["sigma"] > 0
    search = client.get("/api/search", params={"q": "red"}).json()
    assert search["missing_statistics"] == [old.name] and search["class_modes"] == []
    missing = client.get("/api/classes/red_blue")
    assert missing.status_code == 404 and "1 without statistics cannot say" in missing.json()["detail"]
    classes = client.get("/api/classes").json()
    assert classes["missing_statistics"] == [old.name] and classes["classes"] == [] and classes["datasets"] == []
