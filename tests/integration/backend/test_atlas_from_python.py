"""The atlas from Python (``qkatlas.open_atlas``) reads the same numbers from an atlas folder in-process and from a
real service over HTTP, and they are the service's own answers (its raw JSON), for models, heads, modes, top
images with their maps and pictures, statistics, distribution samples, effects and class search. The maps and
scores are also checked against the atlas's arrays read directly."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import qkatlas
from qkatlas.atlas import Atlas, AtlasError
from qkatlas.conventions import Sign
from qkatlas.read import Atlases, AtlasLookupError, AtlasUnreachable, Mode
from tests.helpers.backend import free_port
from tests.helpers.service import Service


@pytest.fixture(scope="module")
def service(atlas_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    served = Service(atlas_root, None, tmp_path_factory.mktemp("service") / "service.log")
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def both(atlas_root: Path, service: Service) -> Iterator[tuple[Atlases, Atlases]]:
    """The same atlases read locally and over HTTP."""
    with qkatlas.open_atlas(atlas_root) as local, qkatlas.open_atlas(service.url) as remote:
        yield local, remote


def _json(service: Service, path: str) -> Any:
    reply = service.get(path)
    assert reply.status == 200, reply.body[:300]
    return reply.json()


def _modes(atlases: dict[str, Atlas]) -> Iterator[tuple[Atlas, int, int, int, Sign, str]]:
    """A few signed modes of each atlas in each of its bases: the first and the last head."""
    for atlas in atlases.values():
        for basis in atlas.bases:
            for layer, head in ((0, 0), (atlas.n_layers - 1, atlas.n_heads - 1)):
                for mode in range(3):
                    for sign in Sign:
                        yield atlas, layer, head, mode, sign, basis.value


def test_models_and_heads_are_the_services(both: tuple[Atlases, Atlases], service: Service) -> None:
    local, remote = both
    assert local.slugs == remote.slugs == sorted(model["slug"] for model in _json(service, "/api/models"))
    assert [m.model_dump(mode="json") for m in local.models] == [m.model_dump(mode="json") for m in remote.models]
    for slug in local:
        mine, theirs = local[slug], remote[slug]
        assert mine.detail.model_dump(mode="json") == theirs.detail.model_dump(mode="json")
        assert theirs.detail.model_dump(mode="json") == _json(service, f"/api/models/{slug}")
        assert mine.sigma.shape == (mine.detail.n_layers, mine.detail.n_heads, mine.detail.n_modes)
        np.testing.assert_array_equal(mine.sigma, theirs.sigma)
        head = mine.head(0, 0, basis="exact")
        raw = _json(service, f"/api/models/{slug}/layers/0/heads/0?basis=exact")
        assert head.detail.model_dump(mode="json") == remote[slug].head(0, 0, basis="exact").detail.model_dump(
            mode="json"
        )
        assert head.detail.model_dump(mode="json") == raw
        np.testing.assert_array_equal(head.sigma, [m["sigma"] for m in raw["modes"]])


def _check_top_images(mode: Mode, atlas: Atlas, basis: str, service: Service, path: str) -> None:
    """Each top image's picture is the served JPEG's, its maps the atlas's arrays, its score their product."""
    address = mode.address
    for top in mode.top_images():
        assert top.image.size == (atlas.image_size, atlas.image_size)
        served = Image.open(io.BytesIO(service.get(f"/api/images/{top.image_id}").body)).convert("RGB")
        np.testing.assert_array_equal(np.asarray(top.image), np.asarray(served))
        query, key = atlas.maps(
            address.head.basis, address.head.layer, address.head.head, address.mode, address.sign, top.rank
        )
        assert top.query_map.shape == top.key_map.shape == (atlas.grid, atlas.grid)
        np.testing.assert_array_equal(top.query_map, query)
        np.testing.assert_array_equal(top.key_map, key)
        raw = _json(service, f"{path}/top/{top.rank}/maps?basis={basis}&sign={address.sign.value}")
        np.testing.assert_array_equal(top.query_map, np.asarray(raw["query"], np.float32))
        if address.sign is Sign.pos:  # the paper's rule, max P_U · max P_V, on maps stored in float16
            assert top.score == pytest.approx(float(query.max()) * float(key.max()), rel=2e-3)


def test_modes_top_images_statistics_and_samples_are_the_services(
    both: tuple[Atlases, Atlases], atlases: dict[str, Atlas], service: Service
) -> None:
    local, remote = both
    with_images = with_samples = with_classes = with_effect = 0
    for atlas, layer, head, number, sign, basis in _modes(atlases):
        mine = local[atlas.slug].mode(layer, head, number, sign=sign, basis=basis)
        theirs = remote[atlas.slug].mode(layer, head, number, sign=sign.value, basis=basis)
        path = f"/api/models/{atlas.slug}/layers/{layer}/heads/{head}/modes/{number}"
        query = f"?basis={basis}&sign={sign.value}"
        raw = _json(service, path + query)
        assert mine.detail.model_dump(mode="json") == theirs.detail.model_dump(mode="json") == raw
        assert mine.sigma == pytest.approx(float(atlas.sigma(layer, head)[number]))
        mine_tops, their_tops = mine.top_images(), theirs.top_images()
        assert [(t.rank, t.image_id, t.score) for t in mine_tops] == [(t.rank, t.image_id, t.score) for t in their_tops]
        assert [t.image_id for t in mine_tops] == [t["image_id"] for t in raw["top_images"]]
        for a, b in zip(mine_tops, their_tops, strict=True):
            np.testing.assert_allclose(a.query_map, b.query_map, rtol=0, atol=1e-7)
            np.testing.assert_allclose(a.key_map, b.key_map, rtol=0, atol=1e-7)
            assert (a.query_peak, a.key_peak, a.scale) == (b.query_peak, b.key_peak, b.scale)
        _check_top_images(mine, atlas, basis, service, path)
        samples, their_samples = mine.samples(), theirs.samples()
        raw_samples = _json(service, f"{path}/samples{query}")
        bands = [(b.band, b.low, b.high, b.count, [i.image_id for i in b.images]) for b in samples.bands]
        assert bands == [(b.band, b.low, b.high, b.count, [i.image_id for i in b.images]) for b in their_samples.bands]
        assert bands == [
            (b["band"], b["low"], b["high"], b["count"], [i["image_id"] for i in b["images"]])
            for b in raw_samples["bands"]
        ]
        with_images += bool(mine_tops)
        with_samples += any(band.images for band in samples.bands)
        with_classes += mine.class_profile is not None and bool(mine.class_profile.top_classes)
        with_effect += mine.effect is not None
    assert min(with_images, with_samples, with_classes, with_effect) > 0, "the modes compared show every part"


def test_class_search_is_the_services(both: tuple[Atlases, Atlases], service: Service) -> None:
    local, remote = both
    found = local.class_modes("red", limit=3)
    assert found.models and found.models[0].modes
    assert found.model_dump(mode="json") == remote.class_modes("red", limit=3).model_dump(mode="json")
    assert found.model_dump(mode="json") == _json(service, "/api/classes/red?limit=3")
    results = local.search("red")
    assert results.model_dump(mode="json") == remote.search("red").model_dump(mode="json")
    assert results.model_dump(mode="json") == _json(service, "/api/search?q=red")


def test_unknown_ids_and_an_unreachable_service_are_clear_errors(
    both: tuple[Atlases, Atlases], atlases: dict[str, Atlas]
) -> None:
    for served in both:
        model = served.model(atlases["planted"].slug)
        with pytest.raises(AtlasLookupError, match="no mode 99: each head has 16 modes"):
            model.mode(0, 0, 99)
        with pytest.raises(AtlasLookupError, match="no layer 7"):
            model.head(7, 0)
        with pytest.raises(AtlasLookupError, match="no model 'nope'"):
            served["nope"]
        with pytest.raises(AtlasLookupError, match="no served model's dataset has a class 'no such class'"):
            served.class_modes("no such class")
        with pytest.raises(AtlasLookupError, match="2 atlases"):
            served.model()
    with pytest.raises(AtlasUnreachable, match="cannot be reached"):
        qkatlas.open_atlas(f"http://127.0.0.1:{free_port()}", timeout_s=5)


def test_open_atlas_reads_one_atlas_or_a_folder_of_them(atlases: dict[str, Atlas], tmp_path: Path) -> None:
    planted = atlases["planted"]
    one = qkatlas.open_atlas(planted.path)
    assert one.slugs == [planted.slug] and one.model().revision == planted.revision
    root = tmp_path / "root"
    shutil.copytree(planted.path, root / planted.path.name)
    (root / "half-copied").mkdir()
    folder = qkatlas.open_atlas(root)
    assert folder.slugs == [planted.slug]
    assert folder.failures == (("half-copied", "no manifest.json (not an atlas, or never finished)"),)
    (tmp_path / "empty").mkdir()
    with pytest.raises(AtlasError, match="no atlas opens under"):
        qkatlas.open_atlas(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no atlas folder"):
        qkatlas.open_atlas(tmp_path / "missing")
