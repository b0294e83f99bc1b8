"""Query/key overlays of a mode on an image (docs/method.md#rendering).

Every image of one signed mode is drawn on **one colour scale per map**: a map value ``x`` has intensity
``clip(x / scale, 0, 1)``, ``scale`` being the largest query (or key) value over the mode's listed top
images (``MapScale``), so the same colour means the same value on every image of the mode and a numbered
colour bar can say which. The query map drives one colour and the key map its additive complement, so a
patch where both are high is white: the paper's red query / cyan key, or the colour-blind-safe
``orange_blue`` (Okabe–Ito-like orange query / azure-blue key, distinguishable under deuteranopia,
protanopia and tritanopia, and still summing to white). Patches are upsampled as blocks (nearest), one
block per patch, to the image *as the model saw it*; optionally over that image in colour. Two knobs
set the mix: ``opacity`` scales the maps (0 = photo alone), ``blend`` the photo's brightness (0 = maps
alone); per pixel ``out = opacity·colour + (1 − opacity·alpha)·blend·photo``, ``alpha`` being the larger
of the two intensities. ``mark_peaks`` then outlines the two patches whose values make the image's score
(the query map's maximum: a solid white box; the key map's: a larger dashed black-and-white box).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, ImageDraw

#: Changes whenever the same options draw different pixels (2: the photo in colour, with ``opacity``; 3: one
#: scale per mode and the score's two patches outlined), so caches of rendered overlays keyed by it never
#: serve an older drawing.
RENDERING_VERSION = 3


class Channel(StrEnum):
    """Which maps an overlay shows."""

    query = "query"
    key = "key"
    both = "both"


class Palette(StrEnum):
    """Overlay colours: the paper's red query / cyan key, or colour-blind-safe orange query / blue key.

    Both palettes are additive complements, so a patch where both maps are high renders white.
    """

    red_cyan = "red_cyan"
    orange_blue = "orange_blue"


#: (query colour, key colour) as RGB in [0, 1]; each pair sums to white.
PALETTE_COLOURS: dict[Palette, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    Palette.red_cyan: ((1.0, 0.0, 0.0), (0.0, 1.0, 1.0)),
    Palette.orange_blue: ((1.0, 0.6, 0.0), (0.0, 0.4, 1.0)),
}


class MapScale(NamedTuple):
    """The map values drawn at full intensity, one per map, shared by every image of a signed mode."""

    query: float
    key: float


def map_scale(maps: Iterable[tuple[np.ndarray, np.ndarray]]) -> MapScale:
    """The largest query value and the largest key value over ``(query, key)`` map pairs, each floored at 0
    (a map whose values are all negative shows no colour on any scale)."""
    query_high = key_high = 0.0
    for query, key in maps:
        query_high = max(query_high, float(np.max(query)))
        key_high = max(key_high, float(np.max(key)))
    return MapScale(query=query_high, key=key_high)


def intensity(values: np.ndarray, scale: float) -> np.ndarray:
    """Map values → [0, 1] on a shared scale: ``clip(x / scale, 0, 1)`` (float32, same shape); all zeros for
    ``scale`` ≤ 0. Negative values (the signed mode's opposite) show no colour."""
    values = np.asarray(values, dtype=np.float32)
    if not scale > 0:
        return np.zeros_like(values)
    return np.clip(values / np.float32(scale), 0.0, 1.0)


def peak_patch(values: np.ndarray) -> tuple[int, int]:
    """``(row, column)`` of a ``[T, T]`` map's largest value (the first in row-major order on a tie): the patch
    whose value enters the image's score."""
    row, column = np.unravel_index(int(np.argmax(values)), np.shape(values))
    return int(row), int(column)


def _upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """``[T, T, ...]`` → ``[size, size, ...]``, each patch a block (nearest neighbour)."""
    t = grid.shape[0]
    if size % t == 0:
        factor = size // t
        return grid.repeat(factor, axis=0).repeat(factor, axis=1)
    rows = (np.arange(size) * t) // size
    upsampled: np.ndarray = grid[rows][:, rows]
    return upsampled


def render_overlay(
    query: np.ndarray,
    key: np.ndarray,
    *,
    size: int,
    channel: Channel = Channel.both,
    palette: Palette = Palette.red_cyan,
    scale: MapScale,
    photo: np.ndarray | None = None,
    blend: float = 0.0,
    opacity: float = 1.0,
) -> np.ndarray:
    """Overlay of a query map and a key map (both ``[T, T]``) as uint8 RGB ``[size, size, 3]``, each map's
    values drawn on its ``scale`` (see ``intensity``).

    ``photo`` is the image as the model saw it (uint8 ``[size, size, 3]``); with ``blend > 0`` the
    maps are drawn over it in colour, dimmed to ``blend`` (1 = full brightness). ``opacity`` scales the
    maps (1 = full strength, 0 = the photo alone); each map's own intensity times ``opacity`` is how
    much of the photo it covers, so cold patches show the photo and hot ones the map colours.
    """
    if query.shape != key.shape or query.ndim != 2 or query.shape[0] != query.shape[1]:
        raise ValueError(f"maps must be square and alike, got {query.shape} and {key.shape}")
    if not 0.0 <= blend <= 1.0:
        raise ValueError(f"blend must be in [0, 1], got {blend}")
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    query_colour, key_colour = (np.asarray(c, dtype=np.float32) for c in PALETTE_COLOURS[Palette(palette)])
    q = intensity(query, scale.query) if channel in (Channel.query, Channel.both) else np.zeros(query.shape, np.float32)
    k = intensity(key, scale.key) if channel in (Channel.key, Channel.both) else np.zeros(key.shape, np.float32)
    colour = np.minimum(q[..., None] * query_colour + k[..., None] * key_colour, 1.0)
    out = opacity * _upsample(colour, size)
    if photo is not None and blend > 0.0:
        if photo.shape != (size, size, 3):
            raise ValueError(f"photo must be [{size}, {size}, 3], got {photo.shape}")
        alpha = _upsample(np.maximum(q, k), size)[..., None]
        out = out + (1.0 - opacity * alpha) * (blend / 255.0) * photo.astype(np.float32)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


#: How a thumbnail is encoded (``encode_thumbnail``, ``save_thumbnail``).
_THUMBNAIL_JPEG: dict[str, Any] = {"format": "JPEG", "quality": 92}


def encode_thumbnail(rgb: np.ndarray) -> bytes:
    """uint8 RGB ``[S, S, 3]`` crop as the model saw it → the JPEG an atlas stores as its thumbnail.

    Pillow encodes into memory holding the GIL throughout; to write a file use ``save_thumbnail``."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, **_THUMBNAIL_JPEG)
    return buffer.getvalue()


def save_thumbnail(rgb: np.ndarray, path: Path) -> None:
    """Write ``encode_thumbnail(rgb)``'s bytes to the file ``path``. Pillow streams the encoder's output
    straight into an open file with the GIL released (it holds it for the whole encode into memory), so
    thumbnails written this way leave the thread that launches the model's kernels alone."""
    with path.open("wb") as file:
        Image.fromarray(rgb).save(file, **_THUMBNAIL_JPEG)


def patch_bounds(index: int, grid: int, size: int) -> tuple[int, int]:
    """The pixels ``[start, stop)`` of patch row (or column) ``index`` of ``grid`` in an image ``size`` pixels
    wide, as ``_upsample`` lays the patches out (pixel ``p`` belongs to patch ``⌊p·grid/size⌋``)."""
    return -(-index * size // grid), -(-(index + 1) * size // grid)


#: Query peak: a white ring 2 px wide with a black pixel either side, on the patch's own edge.
#: Key peak: a ring 2 px wide of alternating 4 px white and black dashes, 3 px outside the patch, so both
#: show where the two peaks fall on the same patch.
_KEY_RING_GAP, _DASH = 3, 4


def mark_peaks(rgb: np.ndarray, query: np.ndarray, key: np.ndarray) -> np.ndarray:
    """A copy of an overlay (uint8 ``[size, size, 3]``) with the patches of the query map's and the key map's
    maxima (``peak_patch``) outlined: the two values whose product is the image's score."""
    size, grid = rgb.shape[0], np.shape(query)[0]
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    (q_row, q_col), (k_row, k_col) = peak_patch(query), peak_patch(key)
    # The key ring first: where it crosses the query ring, the query ring stays whole.
    y0, y1 = patch_bounds(k_row, grid, size)
    x0, x1 = patch_bounds(k_col, grid, size)
    out = _KEY_RING_GAP + 2
    left, top, right, bottom = x0 - out, y0 - out, x1 - 1 + out, y1 - 1 + out
    for along in range(left, right + 1, _DASH):
        colour = (255, 255, 255) if (along - left) // _DASH % 2 == 0 else (0, 0, 0)
        stop = min(along + _DASH - 1, right)
        draw.rectangle((along, top, stop, top + 1), fill=colour)
        draw.rectangle((along, bottom - 1, stop, bottom), fill=colour)
    for along in range(top, bottom + 1, _DASH):
        colour = (255, 255, 255) if (along - top) // _DASH % 2 == 0 else (0, 0, 0)
        stop = min(along + _DASH - 1, bottom)
        draw.rectangle((left, along, left + 1, stop), fill=colour)
        draw.rectangle((right - 1, along, right, stop), fill=colour)
    y0, y1 = patch_bounds(q_row, grid, size)
    x0, x1 = patch_bounds(q_col, grid, size)
    draw.rectangle((x0 - 1, y0 - 1, x1, y1), outline=(0, 0, 0), width=4)
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=(255, 255, 255), width=2)
    return np.asarray(image)


def encode_png(rgb: np.ndarray) -> bytes:
    """uint8 RGB ``[H, W, 3]`` → PNG bytes (fast compression: overlays are served, not archived)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
