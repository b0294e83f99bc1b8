"""The server answers every dashboard address with the app page, and with 404 when the address names
nothing in the atlases served (so link checkers see it); ``GET /api/pages/{path}`` says the same for
nginx. Also ``GET /api/classes`` and the class page's counts, against the atlas's own arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qkatlas.atlas import Atlas
from qkatlas.mode_statistics import RELIABLE_CLASS_IMAGES
from tests.helpers.backend import AppFactory

UPLOAD = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def dashboard(make_client: AppFactory, tmp_path: Path) -> TestClient:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root>app-page</div>")
    (dist / "assets" / "app.js").write_text("export {};")
    return make_client(frontend_dist=dist)


def _addresses(planted: Atlas, tiny: Atlas) -> tuple[list[str], list[str]]:
    label = planted.statistics.classes[0] if planted.statistics else ""
    p = planted.slug
    good = [
        "/",
        "/search?q=red",
        "/upload",
        "/classes",
        f"/classes/{label}",
        f"/classes/{label.upper().replace(' ', '_')}",
        f"/m/{p}",
        "/m/planted",  # the model slug: the page replaces it by the canonical address
        f"/m/{tiny.model_id}/L0/H0",  # the model id as two segments
        f"/m/{p}/modes",
        f"/m/{p}/modes?layer={planted.n_layers - 1}&head={planted.n_heads - 1}",
        f"/m/{p}/L{planted.n_layers - 1}/H{planted.n_heads - 1}",
        f"/m/{p}/L0/H0/M{planted.n_modes - 1}?sign=neg",
        f"/upload/{UPLOAD}",
        f"/upload/{UPLOAD}?model={p}&layer=0&head=0",
    ]
    bad = [
        "/nowhere",
        "/classes/no-such-class",
        "/m/resnet",
        "/m/resnet/L0/H0/M0",
        f"/m/{p}/L{planted.n_layers}/H0",
        f"/m/{p}/L0/H{planted.n_heads}",
        f"/m/{p}/L0/H0/M{planted.n_modes}",
        f"/m/{p}/Lx/H0",
        f"/m/{p}/L0/H0/M0/extra",
        f"/m/{p}/modes?layer=99",
        f"/m/{p}/modes?head={planted.n_heads}",
        "/upload/not-an-upload",
        f"/upload/{UPLOAD}?model=resnet",
        f"/upload/{UPLOAD}?model={p}&head={planted.n_heads}",
    ]
    return good, bad


def test_dashboard_addresses_get_the_app_page_with_404_when_they_name_nothing(
    dashboard: TestClient, atlases: dict[str, Atlas]
) -> None:
    good, bad = _addresses(atlases["planted"], atlases["tiny"])
    page = dashboard.get("/").text
    assert "app-page" in page
    for address in good:
        response = dashboard.get(address)
        assert (address, response.status_code) == (address, 200)
        assert response.text == page and response.headers["cache-control"] == "no-cache"
    for address in bad:
        response = dashboard.get(address)
        assert (address, response.status_code) == (address, 404)
        assert response.text == page  # the same app page, which says what exists
    assert dashboard.get("/assets/app.js").text == "export {};"
    assert dashboard.get("/api/nowhere").json() == {"detail": "Not Found"}


def test_the_page_check_tells_nginx_the_status_and_the_page_to_serve(
    client: TestClient, atlases: dict[str, Atlas]
) -> None:
    good, bad = _addresses(atlases["planted"], atlases["tiny"])
    for address in good:
        response = client.get(f"/api/pages{address}")
        assert (address, response.status_code) == (address, 200)
        assert response.json()["exists"] is True and response.headers["x-accel-redirect"] == "@app_page"
    for address in bad:
        response = client.get(f"/api/pages{address}")
        assert (address, response.status_code) == (address, 404)
        body = response.json()
        assert body["exists"] is False and body["problem"]
        assert response.headers["x-accel-redirect"] == "@page_not_found"
    assert client.get("/api/pages/m/resnet").json()["problem"] == "no model 'resnet'"


def test_the_mode_index_answers_404_for_a_layer_or_head_the_model_lacks(
    client: TestClient, atlases: dict[str, Atlas]
) -> None:
    planted = atlases["planted"]
    url = f"/api/models/{planted.slug}/modes"
    assert client.get(url, params={"layer": planted.n_layers - 1}).status_code == 200
    response = client.get(url, params={"layer": 99})
    assert response.status_code == 404
    assert response.json()["detail"] == f"no layer 99: the model has {planted.n_layers} layers"
    assert client.get(url, params={"head": planted.n_heads}).status_code == 404


def test_the_class_list_counts_every_class_of_every_labelled_dataset(
    client: TestClient, atlases: dict[str, Atlas]
) -> None:
    body = client.get("/api/classes").json()
    assert body["reliable_class_images"] == RELIABLE_CLASS_IMAGES
    labelled = [a for a in atlases.values() if a.statistics is not None and a.statistics.classes]
    assert sorted(d["name"] for d in body["datasets"]) == sorted(a.manifest.dataset.name for a in labelled)
    for column, dataset in enumerate(body["datasets"]):
        (atlas,) = [a for a in labelled if a.slug in dataset["atlases"]]
        assert atlas.statistics is not None
        counts = np.asarray(atlas.arrays["class_count"])
        expected = {label: int(counts[i]) for i, label in enumerate(atlas.statistics.classes)}
        listed = {c["label"]: c["n_images"][column] for c in body["classes"] if c["n_images"][column] is not None}
        assert listed == expected
        assert dataset["n_images"] == int(counts.sum()) and dataset["largest_class_images"] == int(counts.max())
    labels = [c["label"] for c in body["classes"]]
    assert labels == sorted(labels, key=str.lower)
    unlabelled = sorted(a.slug for a in atlases.values() if a.statistics is not None and not a.statistics.classes)
    assert body["without_labels"] == unlabelled


def test_the_class_page_carries_the_images_each_class_mean_rests_on(
    client: TestClient, atlases: dict[str, Atlas]
) -> None:
    planted = atlases["planted"]
    assert planted.statistics is not None
    label = planted.statistics.classes[0]
    body = client.get(f"/api/classes/{label}").json()
    assert body["reliable_class_images"] == RELIABLE_CLASS_IMAGES
    (model,) = [m for m in body["models"] if m["model"] == planted.slug]
    counts = np.asarray(planted.arrays["class_count"])
    assert model["dataset"] == planted.manifest.dataset.name
    assert model["n_images"] == int(counts[0]) and model["largest_class_images"] == int(counts.max())
    assert all(match["n_images"] == int(counts[0]) for match in model["modes"])
