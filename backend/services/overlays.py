"""Maps and overlays of one signed mode on one image, shared by atlas images and uploads."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from backend.schemas import MapScaleOut, ModeMaps, PatchOut
from qkatlas.render import (
    RENDERING_VERSION,
    Channel,
    MapScale,
    Palette,
    encode_png,
    map_scale,
    mark_peaks,
    peak_patch,
    render_overlay,
)

#: The default mix keeps the photo readable: the photo at full brightness under maps at 60 % strength, so a
#: patch at the top of the scale is 60 % map colour and 40 % photo (docs/method.md#rendering says why).
DEFAULT_BLEND, DEFAULT_OPACITY = 1.0, 0.6


@dataclass(frozen=True)
class OverlayOptions:
    channel: Channel
    palette: Palette
    blend: float
    opacity: float

    def cache_key(self) -> str:
        """The options as part of a rendered overlay's cache key (with the renderer's version)."""
        return f"r{RENDERING_VERSION}:{self.channel.value}:{self.palette.value}:{self.blend:.3f}:{self.opacity:.3f}"


#: The overlay the dashboard shows by default (and link previews draw).
DEFAULT_OPTIONS = OverlayOptions(Channel.both, Palette.red_cyan, DEFAULT_BLEND, DEFAULT_OPACITY)


def scale_out(scale: MapScale) -> MapScaleOut:
    return MapScaleOut(query=scale.query, key=scale.key)


def own_scale_unless(scale: MapScale | None, query: np.ndarray, key: np.ndarray) -> MapScale:
    """``scale``, or where there is none (a mode that lists no top image) the maps' own maxima."""
    return scale if scale is not None else map_scale([(query, key)])


def mode_maps(query: np.ndarray, key: np.ndarray, image_size: int, scale: MapScale) -> ModeMaps:
    """The maps of one image with the scale its overlay is drawn on and the two patches it outlines."""
    query, key = np.asarray(query, np.float32), np.asarray(key, np.float32)
    (q_row, q_col), (k_row, k_col) = peak_patch(query), peak_patch(key)
    return ModeMaps(
        grid=query.shape[0],
        image_size=image_size,
        query=query.tolist(),
        key=key.tolist(),
        scale=scale_out(scale),
        query_peak=PatchOut(row=q_row, column=q_col),
        key_peak=PatchOut(row=k_row, column=k_col),
    )


def photo_pixels(photo: bytes, size: int) -> np.ndarray:
    """An encoded image as the model saw it → uint8 RGB ``[size, size, 3]``, enlarged by whole pixels when ``size``
    is a multiple of its size (a figure's panel), else resampled (Lanczos)."""
    with Image.open(io.BytesIO(photo)) as image:
        rgb = image.convert("RGB")
    if rgb.size != (size, size):
        whole = rgb.width == rgb.height and size % rgb.width == 0
        rgb = rgb.resize((size, size), Image.Resampling.NEAREST if whole else Image.Resampling.LANCZOS)
    return np.asarray(rgb)


def overlay_pixels(
    query: np.ndarray,
    key: np.ndarray,
    *,
    size: int,
    options: OverlayOptions,
    scale: MapScale,
    photo: bytes | None,
) -> np.ndarray:
    """The overlay on ``scale`` as uint8 RGB ``[size, size, 3]``, with the two patches that make the score
    outlined; ``photo`` is the encoded image as the model saw it (only decoded when blending; see
    ``photo_pixels``)."""
    pixels = photo_pixels(photo, size) if photo is not None and options.blend > 0.0 else None
    query, key = np.asarray(query, np.float32), np.asarray(key, np.float32)
    rgb_out = render_overlay(
        query,
        key,
        size=size,
        channel=options.channel,
        palette=options.palette,
        scale=scale,
        photo=pixels,
        blend=options.blend if pixels is not None else 0.0,
        opacity=options.opacity,
    )
    return mark_peaks(rgb_out, query, key)


def overlay_png(
    query: np.ndarray,
    key: np.ndarray,
    *,
    size: int,
    options: OverlayOptions,
    scale: MapScale,
    photo: bytes | None,
) -> bytes:
    """``overlay_pixels`` as a PNG."""
    return encode_png(overlay_pixels(query, key, size=size, options=options, scale=scale, photo=photo))
