"""End to end on the planted-mode model: the right images rank first, the maps light up the right cells.

The planted model's modes are known by construction (``PLANTED_MODES``): e.g. layer 0, head 0 has a mode
with ``u = e_red``, ``v = e_blue``. Over generated images with painted rectangles, at the mode index and
sign the atlas's manifest lists for it, the images holding both colours must rank first, and the hottest
query/key cells must fall on the painted rectangles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qkatlas.atlas import Atlas
from qkatlas.conventions import Basis, Sign
from qkatlas.models.planted import PLANTED_MODES, read_planted_index


@pytest.fixture(scope="module")
def planted_atlas(atlas_root: Path) -> Atlas:
    return Atlas.open(next(p for p in atlas_root.iterdir() if p.name.startswith("planted__")))


def test_the_manifest_lists_every_planted_mode(planted_atlas: Atlas) -> None:
    listed = planted_atlas.manifest.model.planted_modes
    assert {(m.layer, m.head, m.query, m.key) for m in listed} == {
        (0, 0, "red", "blue"),
        (0, 0, "green", "green"),
        (1, 0, "green", "red"),
    }
    assert all(m.query in m.expected_look and m.key in m.expected_look for m in listed)


@pytest.mark.parametrize("basis", [Basis.faithful, Basis.exact])
@pytest.mark.parametrize(
    "where", [(0, 0, "red"), (0, 0, "green"), (1, 0, "green")], ids=lambda w: f"L{w[0]}H{w[1]}{w[2]}"
)
def test_a_listed_planted_mode_ranks_the_right_images_and_lights_the_right_cells(
    planted_atlas: Atlas, planted_image_dir: Path, basis: Basis, where: tuple[int, int, str]
) -> None:
    """The manifest's mode index and sign (read back from the built atlas) are where the colours show:
    its top images hold both colours and the hottest query/key cells lie on them; the other sign's
    hottest query cells never lie on the query colour."""
    layer, head, query = where
    planted = next(m for m in planted_atlas.manifest.model.planted_modes if (m.layer, m.head, m.query) == where)
    records = {record.path: record for record in read_planted_index(planted_image_dir)}
    wanted = {planted.query, planted.key}
    holders = [r for r in records.values() if wanted <= set(r.boxes)]
    top = planted_atlas.top_images(basis, layer, head, planted.mode, planted.sign)
    assert len(top) == planted_atlas.top_k <= len(holders)
    grid = planted_atlas.grid
    for rank, (index, score) in enumerate(top):
        meta = planted_atlas.image_meta(index)
        assert meta is not None
        record = records[meta.source]
        assert wanted <= set(record.boxes), f"rank {rank}: {record.description} lacks {wanted}"
        assert score > 0
        query_map, key_map = planted_atlas.maps(basis, layer, head, planted.mode, planted.sign, rank)
        assert divmod(int(np.argmax(query_map)), grid) in record.cells[query]
        assert divmod(int(np.argmax(key_map)), grid) in record.cells[planted.key]
    other = Sign.neg if planted.sign == Sign.pos else Sign.pos
    for rank, (index, _) in enumerate(planted_atlas.top_images(basis, layer, head, planted.mode, other)):
        meta = planted_atlas.image_meta(index)
        assert meta is not None
        query_map, _ = planted_atlas.maps(basis, layer, head, planted.mode, other, rank)
        assert divmod(int(np.argmax(query_map)), grid) not in records[meta.source].cells.get(query, [])


def test_planted_spectrum_and_cosines(planted_atlas: Atlas) -> None:
    for planted in PLANTED_MODES:
        sigma = planted_atlas.sigma(planted.layer, planted.head)
        cos = planted_atlas.cos(planted.layer, planted.head)
        assert sigma[planted.mode] == pytest.approx(planted.sigma, rel=1e-5)
        assert cos[planted.mode] == pytest.approx(1.0 if planted.kind == "grouping" else 0.0, abs=1e-6)
    summary = planted_atlas.summary
    assert len(summary.layer_weighted_cos) == planted_atlas.n_layers
    assert summary.normalized_depth == [0.0, 1.0]
