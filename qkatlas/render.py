"""Query/key overlays of a mode on an image (docs/method.md#rendering).

Each map (``[T, T]``, row-major over the patch grid) is clipped to its own 30th–95th percentile and
scaled to [0, 1]. The query map drives one colour and the key map its additive complement, so a patch
where both are high is white: the paper's red query / cyan key, or the colour-blind-safe
``orange_blue`` (Okabe–Ito-like orange query / azure-blue key, distinguishable under deuteranopia,
protanopia and tritanopia, and still summing to white). Patches are upsampled as blocks (nearest), one
block per patch, to the image *as the model saw it*; optionally over that image in colour. Two knobs
set the mix: ``opacity`` scales the maps (0 = photo alone), ``blend`` the photo's brightness (0 = maps
alone); per pixel ``out = opacity·colour + (1 − opacity·alpha)·blend·photo``, ``alpha`` being the larger
of the two normalized maps, so a hot patch at full opacity shows only its map colour.
"""

from __future__ import annotations

import io
from enum import StrEnum

import numpy as np
from PIL import Image

CLIP_PERCENTILES = (30.0, 95.0)
#: Changes whenever the same options draw different pixels (2: the photo in colour, with ``opacity``), so
#: caches of rendered overlays keyed by it never serve an older drawing.
RENDERING_VERSION = 2


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


def clip_range(values: np.ndarray) -> tuple[float, float]:
    """The (30th, 95th) percentiles of a map: the range the renderer scales to [0, 1]."""
    low, high = np.percentile(np.asarray(values, dtype=np.float64), CLIP_PERCENTILES)
    return float(low), float(high)


def normalize_map(values: np.ndarray) -> np.ndarray:
    """Clip a map to its own 30th–95th percentile and scale it to [0, 1] (float32, same shape).

    A flat map (both percentiles equal) has nothing to show and becomes all zeros.
    """
    values = np.asarray(values, dtype=np.float32)
    low, high = clip_range(values)
    if not high > low:
        return np.zeros_like(values)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


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
    photo: np.ndarray | None = None,
    blend: float = 0.0,
    opacity: float = 1.0,
) -> np.ndarray:
    """Overlay of a query map and a key map (both ``[T, T]``) as uint8 RGB ``[size, size, 3]``.

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
    q = normalize_map(query) if channel in (Channel.query, Channel.both) else np.zeros(query.shape, np.float32)
    k = normalize_map(key) if channel in (Channel.key, Channel.both) else np.zeros(key.shape, np.float32)
    colour = np.minimum(q[..., None] * query_colour + k[..., None] * key_colour, 1.0)
    out = opacity * _upsample(colour, size)
    if photo is not None and blend > 0.0:
        if photo.shape != (size, size, 3):
            raise ValueError(f"photo must be [{size}, {size}, 3], got {photo.shape}")
        alpha = _upsample(np.maximum(q, k), size)[..., None]
        out = out + (1.0 - opacity * alpha) * (blend / 255.0) * photo.astype(np.float32)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def encode_thumbnail(rgb: np.ndarray) -> bytes:
    """uint8 RGB ``[S, S, 3]`` crop as the model saw it → the JPEG an atlas stores as its thumbnail."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def encode_png(rgb: np.ndarray) -> bytes:
    """uint8 RGB ``[H, W, 3]`` → PNG bytes (fast compression: overlays are served, not archived)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
