"""End to end on the planted-mode model: the right images rank first, the maps light up the right cells.

The planted model's modes are known by construction (``PLANTED_MODES``): e.g. layer 0, head 0, mode 0
has ``u = e_red``, ``v = e_blue``. Over generated images with painted rectangles, the images holding
both colours must rank first, and the hottest query/key cells must fall on the painted rectangles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qkatlas.atlas import Atlas
from qkatlas.conventions import Basis, Sign
from qkatlas.models.planted import PLANTED_MODES, PlantedMode, read_planted_index


@pytest.fixture(scope="module")
def planted_atlas(atlas_root: Path) -> Atlas:
    return Atlas.open(next(p for p in atlas_root.iterdir() if p.name.startswith("planted__")))


@pytest.mark.parametrize("basis", [Basis.faithful, Basis.exact])
@pytest.mark.parametrize("planted", PLANTED_MODES, ids=lambda m: f"L{m.layer}H{m.head}M{m.mode}")
def test_planted_modes_rank_the_right_images_and_light_the_right_cells(
    planted_atlas: Atlas, planted_image_dir: Path, basis: Basis, planted: PlantedMode
) -> None:
    records = {record.path: record for record in read_planted_index(planted_image_dir)}
    wanted = {planted.query, planted.key}
    holders = [r for r in records.values() if wanted <= set(r.boxes)]
    top = planted_atlas.top_images(basis, planted.layer, planted.head, planted.mode, Sign.pos)
    assert len(top) == planted_atlas.top_k <= len(holders)
    grid = planted_atlas.grid
    for rank, (index, score) in enumerate(top):
        meta = planted_atlas.image_meta(index)
        assert meta is not None
        record = records[meta.source]
        assert wanted <= set(record.boxes), f"rank {rank}: {record.description} lacks {wanted}"
        assert score > 0
        query_map, key_map = planted_atlas.maps(basis, planted.layer, planted.head, planted.mode, Sign.pos, rank)
        query_cell = divmod(int(np.argmax(query_map)), grid)
        key_cell = divmod(int(np.argmax(key_map)), grid)
        assert query_cell in record.cells[planted.query]
        assert key_cell in record.cells[planted.key]


def test_planted_spectrum_and_cosines(planted_atlas: Atlas) -> None:
    for planted in PLANTED_MODES:
        sigma = planted_atlas.sigma(planted.layer, planted.head)
        cos = planted_atlas.cos(planted.layer, planted.head)
        assert sigma[planted.mode] == pytest.approx(planted.sigma, rel=1e-5)
        assert cos[planted.mode] == pytest.approx(1.0 if planted.kind == "grouping" else 0.0, abs=1e-6)
    summary = planted_atlas.summary
    assert len(summary.layer_weighted_cos) == planted_atlas.n_layers
    assert summary.normalized_depth == [0.0, 1.0]
