"""Maps and overlays of one signed mode on one image, shared by atlas images and uploads."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from backend.schemas import ClipRange, ModeMaps
from qkatlas.render import RENDERING_VERSION, Channel, Palette, clip_range, encode_png, render_overlay


@dataclass(frozen=True)
class OverlayOptions:
    channel: Channel
    palette: Palette
    blend: float
    opacity: float

    def cache_key(self) -> str:
        """The options as part of a rendered overlay's cache key (with the renderer's version)."""
        return f"r{RENDERING_VERSION}:{self.channel.value}:{self.palette.value}:{self.blend:.3f}:{self.opacity:.3f}"


def mode_maps(query: np.ndarray, key: np.ndarray, image_size: int) -> ModeMaps:
    query, key = np.asarray(query, np.float32), np.asarray(key, np.float32)
    (q_low, q_high), (k_low, k_high) = clip_range(query), clip_range(key)
    return ModeMaps(
        grid=query.shape[0],
        image_size=image_size,
        query=query.tolist(),
        key=key.tolist(),
        query_clip=ClipRange(low=q_low, high=q_high),
        key_clip=ClipRange(low=k_low, high=k_high),
    )


def overlay_png(
    query: np.ndarray,
    key: np.ndarray,
    *,
    size: int,
    options: OverlayOptions,
    photo: bytes | None,
) -> bytes:
    """PNG overlay; ``photo`` is the encoded image as the model saw it (only decoded when blending)."""
    pixels = None
    if photo is not None and options.blend > 0.0:
        with Image.open(io.BytesIO(photo)) as image:
            pixels = np.asarray(image.convert("RGB"))
    rgb = render_overlay(
        np.asarray(query, np.float32),
        np.asarray(key, np.float32),
        size=size,
        channel=options.channel,
        palette=options.palette,
        photo=pixels,
        blend=options.blend if pixels is not None else 0.0,
        opacity=options.opacity,
    )
    return encode_png(rgb)
