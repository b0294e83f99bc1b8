"""Odd-One-Out results of the served atlases, parsed once per version of their file.

``precompute o3`` may add or replace an atlas's results while the service runs, so the files are
not read at startup: each request stats the places ``Atlas.o3`` looks (two ``stat`` calls) and the
file is read and validated again only when one of them changed (mtime, size, or appeared/went).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from backend.schemas import O3Chance, O3Dataset, O3Layer, O3QueryLayer, O3Result, O3Shares
from qkatlas.atlas import Atlas
from qkatlas.o3 import QUERIES, REGIONS

log = logging.getLogger(__name__)

FileVersion = tuple[int, int] | None


def _version(path: Path) -> FileVersion:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _shares(table: dict[str, Any], *index: int) -> O3Shares:
    values = {}
    for region in REGIONS:
        value = table[region]
        for i in index:
            value = value[i]
        values[region] = value
    return O3Shares(**values)


def _query_layer(query: dict[str, Any], layer: int, n_heads: int) -> O3QueryLayer:
    heads = query.get("head")
    return O3QueryLayer(
        mean=_shares(query["layer"], layer),
        std=_shares(query["layer_std"], layer),
        heads=[_shares(heads, layer, head) for head in range(n_heads)] if heads is not None else None,
    )


def parse_o3(atlas: Atlas, raw: dict[str, Any]) -> O3Result:
    """``o3.json`` (docs/atlas-format.md) → the API's ``O3Result``.

    Raises:
        KeyError, IndexError, TypeError, ValueError: the file does not have the documented layout.
    """
    n_layers, n_heads = atlas.n_layers, atlas.n_heads
    depth = raw["normalized_depth"]
    if len(depth) != n_layers:
        raise ValueError(f"{len(depth)} layers in o3.json, {n_layers} in the atlas")
    dataset = raw["dataset"]
    queries = {query: raw[query] for query in QUERIES}
    return O3Result(
        model=atlas.slug,
        model_id=atlas.model_id,
        n_layers=n_layers,
        n_heads=n_heads,
        dataset=O3Dataset(
            name=Path(str(dataset["source"])).name,
            n_images=dataset["n_images"],
            n_used=dataset["n_used"],
            n_skipped=dataset["n_skipped"],
        ),
        definitions={str(k): str(v) for k, v in raw.get("definitions", {}).items()},
        chance=O3Chance(**{query: _shares(queries[query]["chance"]) for query in QUERIES}),
        layers=[
            O3Layer(
                layer=layer,
                normalized_depth=depth[layer],
                **{query: _query_layer(queries[query], layer, n_heads) for query in QUERIES},
            )
            for layer in range(n_layers)
        ],
    )


class O3Results:
    """``get(atlas)`` → the atlas's parsed O3 results or None, re-read only when its file changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[FileVersion, ...], O3Result | None]] = {}

    def get(self, atlas: Atlas) -> O3Result | None:
        key = tuple(_version(path) for path in atlas.o3_paths)
        cached = self._cache.get(atlas.slug)
        if cached is not None and cached[0] == key:
            return cached[1]
        result = None
        if any(version is not None for version in key):
            raw = atlas.o3
            if raw is not None:
                try:
                    result = parse_o3(atlas, raw)
                except (KeyError, IndexError, TypeError, ValueError, ValidationError) as exc:
                    log.warning("atlas %s: odd-one-out results not served: %s", atlas.slug, exc)
        self._cache[atlas.slug] = (key, result)
        return result
