"""The atlas from Python's own records: what a notebook holds beyond the service's JSON (the images as PIL
images, the maps as numpy arrays). Scalars keep the names and meanings of the service's response records
(``backend/schemas.py``), which the other records of this API are."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from backend.schemas import MapScaleOut


@dataclass(frozen=True)
class TopImage:
    """One of a signed mode's top images (the evidence, best first), with its maps.

    ``query_map`` and ``key_map`` are float32 ``[grid, grid]``, row-major over the patch grid: the image's
    projections onto ``u`` and ``v`` (docs/method.md); its ``score`` is ``query_map.max() * key_map.max()`` for
    the positive sign. ``scale`` is the mode's one colour scale (the largest values over its listed top images).
    """

    rank: int
    image_id: str
    dataset_index: int
    score: float
    fires: bool
    label: str | None
    image: Image.Image = field(repr=False)
    """The image as the model saw it (RGB, ``image_size`` × ``image_size``)."""
    query_map: np.ndarray = field(repr=False)
    key_map: np.ndarray = field(repr=False)
    query_peak: tuple[int, int]
    """``(row, column)`` of the query map's maximum; ``key_peak`` likewise."""
    key_peak: tuple[int, int]
    scale: MapScaleOut


@dataclass(frozen=True)
class SampledImage:
    """An image sampled in a band of a signed mode's score distribution."""

    image_id: str
    dataset_index: int
    label: str | None
    score: float
    fires: bool
    image: Image.Image = field(repr=False)


@dataclass(frozen=True)
class Band:
    """A band of the signed mode's score range: ``[low, high)`` (the last band includes ``high``), the number
    of dataset images scoring in it, and the images sampled in it."""

    band: int
    low: float
    high: float
    count: int
    images: tuple[SampledImage, ...]


@dataclass(frozen=True)
class Samples:
    """Images across a signed mode's whole score distribution, lowest band first; no bands, with
    ``missing`` saying why, for an atlas built without them."""

    bands: tuple[Band, ...]
    per_band: int
    rule: str | None
    missing: str | None
