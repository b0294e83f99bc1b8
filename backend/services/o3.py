"""Odd-One-Out results of the served atlases, parsed once per version of their file.

``precompute o3`` may add or replace an atlas's results while the service runs, so the files are
not read at startup: each request stats the places ``Atlas.o3`` looks (two ``stat`` calls) and the
file is read and validated again only when one of them changed (mtime, size, or appeared/went).
"""

from __future__ import annotations

import logging
from pathlib import Path

from backend.schemas import O3Chance, O3Dataset, O3Layer, O3QueryLayer, O3Result, O3Shares
from qkatlas.atlas import Atlas, AtlasError
from qkatlas.atlas.contract import O3QueryTables, O3Record, RegionShares

log = logging.getLogger(__name__)

FileVersion = tuple[int, int] | None


def _version(path: Path) -> FileVersion:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _shares(shares: RegionShares) -> O3Shares:
    return O3Shares(
        same_object=shares.same_object, different_object=shares.different_object, background=shares.background
    )


def _query_layer(query: O3QueryTables, layer: int, n_heads: int) -> O3QueryLayer:
    return O3QueryLayer(
        mean=_shares(query.layer.at(layer)),
        std=_shares(query.layer_std.at(layer)),
        heads=[_shares(query.head.at(layer, head)) for head in range(n_heads)],
    )


def parse_o3(atlas: Atlas, record: O3Record) -> O3Result:
    """``o3.json`` (docs/atlas-format.md) → the API's ``O3Result``.

    Raises:
        ValueError, IndexError: the file does not describe this atlas's model (layer or head counts).
    """
    n_layers, n_heads = atlas.n_layers, atlas.n_heads
    if len(record.normalized_depth) != n_layers:
        raise ValueError(f"{len(record.normalized_depth)} layers in o3.json, {n_layers} in the atlas")
    dataset = record.dataset
    return O3Result(
        model=atlas.slug,
        model_id=atlas.model_id,
        n_layers=n_layers,
        n_heads=n_heads,
        dataset=O3Dataset(
            name=Path(dataset.source).name,
            n_images=dataset.n_images,
            n_used=dataset.n_used,
            n_skipped=dataset.n_skipped,
        ),
        definitions=record.definitions,
        chance=O3Chance(
            target_query=_shares(record.target_query.chance),
            distractor_query=_shares(record.distractor_query.chance),
        ),
        layers=[
            O3Layer(
                layer=layer,
                normalized_depth=depth,
                target_query=_query_layer(record.target_query, layer, n_heads),
                distractor_query=_query_layer(record.distractor_query, layer, n_heads),
            )
            for layer, depth in enumerate(record.normalized_depth)
        ],
    )


class O3Results:
    """``get(atlas)`` → the atlas's parsed O3 results or None, re-read only when its file changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[str, tuple[FileVersion, ...]], O3Result | None]] = {}

    @staticmethod
    def version(atlas: Atlas) -> str:
        """Names the version of the atlas's results files (stat of each place it looks): changes when
        one is added, replaced or removed, so it may go into an HTTP validator (ETag)."""
        return repr(tuple(_version(path) for path in atlas.o3_paths))

    def get(self, atlas: Atlas) -> O3Result | None:
        versions = tuple(_version(path) for path in atlas.o3_paths)
        key = (atlas.revision, versions)  # a rebuilt atlas is parsed again, whatever its file's mtime
        cached = self._cache.get(atlas.slug)
        if cached is not None and cached[0] == key:
            return cached[1]
        result = None
        if any(version is not None for version in versions):
            try:
                record = atlas.o3
                result = parse_o3(atlas, record) if record is not None else None
            except (AtlasError, IndexError, ValueError) as exc:
                log.warning("atlas %s: odd-one-out results not served: %s", atlas.slug, exc)
        self._cache[atlas.slug] = (key, result)
        return result
