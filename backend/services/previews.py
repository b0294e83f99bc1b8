"""Link-preview images (1200 × 630 PNG, the Open Graph image of a page: backend.services.page_meta), drawn in
the dashboard's light palette with its overlays (red query / cyan key on each mode's one colour scale,
``backend.services.overlays``) and rendered once per atlas revision into the render cache, like overlays.

- a mode: its name, model, σ, top class, and its four best images with their maps;
- a head: its spectrum (every mode's σ, on an axis in σ's own units) and the best images of its mode M0 pos;
- a class: its most selective signed modes over the served models, each with its best image;
- any other page: the site's card, with the models served.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from backend.core.cache import Cache
from backend.core.text import count, number
from backend.schemas import Basis, Sign
from backend.services.mode_views import listed_top_images, mode_scale
from backend.services.overlays import DEFAULT_OPTIONS, overlay_pixels
from backend.services.page_meta import (
    PREVIEW_SIZE,
    SITE_NAME,
    atlases_with_class,
    head_facts,
    mode_facts,
    mode_name,
    served_revision,
    signed_mode_name,
)
from qkatlas.atlas import Atlas
from qkatlas.atlas.statistics import SignedMode
from qkatlas.render import RENDERING_VERSION

#: Changes whenever the same atlas draws a different preview, so that cached previews are never served stale.
PREVIEW_VERSION = 1
#: The dashboard's light palette (frontend/src/styles.css).
BACKGROUND, SURFACE, FOREGROUND, MUTED, BORDER, ACCENT, BAR = (
    "#f7f7f5",
    "#efefec",
    "#1b1c1e",
    "#55585e",
    "#d5d6d2",
    "#0b5cad",
    "#7a8aa0",
)
_MARGIN = 40
#: Best images a mode preview shows.
MODE_IMAGES = 4
WIDTH, HEIGHT = PREVIEW_SIZE


@cache
def _font_file(bold: bool) -> Path:
    """DejaVu Sans, as shipped with matplotlib (a dependency): it has σ and Σ, and no system fonts are needed."""
    spec = importlib.util.find_spec("matplotlib")
    assert spec is not None and spec.submodule_search_locations, "matplotlib is a dependency"
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / name


@cache
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_font_file(bold)), size)


class _Card:
    """A 1200 × 630 canvas with the header every preview shares: the page's name, a line under it, the site."""

    def __init__(self, title: str, subtitle: str) -> None:
        self.image = Image.new("RGB", PREVIEW_SIZE, BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        wordmark = _font(30, bold=True)
        site_width = self.draw.textlength(SITE_NAME, font=wordmark) if title != SITE_NAME else 0
        if site_width:
            self.draw.text((WIDTH - _MARGIN - site_width, _MARGIN + 8), SITE_NAME, font=wordmark, fill=ACCENT)
        self.text((_MARGIN, _MARGIN), title, 56, bold=True, width=WIDTH - 3 * _MARGIN - site_width)
        self.text((_MARGIN, _MARGIN + 76), subtitle, 30, colour=MUTED)

    def text(
        self,
        at: tuple[float, float],
        text: str,
        size: int,
        *,
        bold: bool = False,
        colour: str = FOREGROUND,
        width: float | None = None,
    ) -> None:
        """``text`` at ``at`` (top left), cut with an ellipsis to ``width`` pixels (the canvas's by default)."""
        font = _font(size, bold)
        room = width if width is not None else WIDTH - _MARGIN - at[0]
        if self.draw.textlength(text, font=font) > room:
            while text and self.draw.textlength(f"{text}…", font=font) > room:
                text = text[:-1]
            text = f"{text}…"
        self.draw.text(at, text, font=font, fill=colour)

    def tile(self, rgb: np.ndarray, at: tuple[int, int], size: int) -> None:
        """An overlay (uint8 ``[S, S, 3]``) scaled to ``size`` pixels, framed."""
        x, y = at
        self.draw.rectangle((x - 1, y - 1, x + size, y + size), outline=BORDER)
        picture = Image.fromarray(rgb)
        # Upscaled as blocks (patches stay sharp, as in the dashboard), downscaled smoothly.
        resample = Image.Resampling.NEAREST if picture.width < size else Image.Resampling.BILINEAR
        self.image.paste(picture.resize((size, size), resample), (x, y))

    def png(self) -> bytes:
        buffer = io.BytesIO()
        # Level 1: a few times faster than the default for a few percent more bytes, on a preview drawn once.
        self.image.save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()


def _best_overlays(atlas: Atlas, mode: SignedMode, basis: Basis, n: int) -> list[np.ndarray]:
    """The overlays of the signed mode's ``n`` best listed images, on the mode's one scale, as the dashboard
    draws them by default."""
    winners = listed_top_images(atlas, basis, mode)[:n]
    scale = mode_scale(atlas, basis, mode)
    overlays = []
    for winner in winners:
        assert scale is not None, "a listed top image makes the mode's scale"
        query, key = atlas.maps(basis, mode.layer, mode.head, mode.mode, mode.sign, winner.rank)
        photo = atlas.thumbnail(winner.dataset_index)
        overlays.append(
            overlay_pixels(query, key, size=atlas.image_size, options=DEFAULT_OPTIONS, scale=scale, photo=photo)
        )
    return overlays


_MAPS_KEY = "red: query map, cyan: key map (one colour scale per mode) · boxes: the patches that make the score"


def mode_preview(atlas: Atlas, mode: SignedMode, basis: Basis) -> bytes:
    card = _Card(signed_mode_name(mode), atlas.model_id)
    for line, fact in enumerate(mode_facts(atlas, mode, basis)):
        card.text((_MARGIN, 170 + 40 * line), fact, 30)
    overlays = _best_overlays(atlas, mode, basis, MODE_IMAGES)
    size, gap = 248, 24
    top = HEIGHT - _MARGIN - 24 - size
    if not overlays:
        card.text((_MARGIN, top), "This signed mode lists no top images (none is evidence).", 26, colour=MUTED)
        return card.png()
    for column, rgb in enumerate(overlays):
        card.tile(rgb, (_MARGIN + column * (size + gap), top), size)
    card.text((_MARGIN, HEIGHT - _MARGIN - 16), f"best images, {basis.value} basis · {_MAPS_KEY}", 16, colour=MUTED)
    return card.png()


def _spectrum(card: _Card, sigma: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Every mode's σ as a bar, on an axis from 0 in σ's own units (its top tick labelled with its value)."""
    left, top, right, bottom = box
    draw, label = card.draw, _font(18)
    high = float(sigma.max()) if sigma.size and float(sigma.max()) > 0 else 1.0
    axis_left = left + 70
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - fraction * (bottom - top)
        draw.line((axis_left, y, right, y), fill=BORDER)
        text = number(high * fraction)
        draw.text((axis_left - 8 - draw.textlength(text, font=label), y - 11), text, font=label, fill=MUTED)
    step = (right - axis_left) / max(len(sigma), 1)
    for index, value in enumerate(sigma):
        x0 = axis_left + index * step + step * 0.15
        height = float(value) / high * (bottom - top)
        draw.rectangle((x0, bottom - height, x0 + max(step * 0.7, 1), bottom), fill=ACCENT if index == 0 else BAR)
    draw.text((axis_left, bottom + 8), f"σ of each mode, M0 to M{len(sigma) - 1} (M0 in blue)", font=label, fill=MUTED)


def head_preview(atlas: Atlas, layer: int, head: int) -> bytes:
    card = _Card(mode_name(layer, head), atlas.model_id)
    card.text((_MARGIN, 170), head_facts(atlas, layer, head), 26)
    _spectrum(card, atlas.sigma(layer, head), (_MARGIN, 250, 700, HEIGHT - _MARGIN - 40))
    size, gap = 170, 14
    mode = SignedMode(layer, head, 0, Sign.pos)
    overlays = _best_overlays(atlas, mode, atlas.bases[0], 4)
    left, top = WIDTH - _MARGIN - 2 * size - gap, 246
    card.text((left, top - 30), f"best images of {signed_mode_name(mode)}", 20, colour=MUTED)
    for number_, rgb in enumerate(overlays):
        card.tile(rgb, (left + (number_ % 2) * (size + gap), top + (number_ // 2) * (size + gap)), size)
    return card.png()


def class_label(atlases: Sequence[Atlas], label: str) -> str | None:
    """The class ``label`` names (case and ``_``/space insensitive) as the first served dataset spells it."""
    for atlas in atlases:
        statistics = atlas.statistics
        class_id = statistics.class_id(label) if statistics is not None else None
        if statistics is not None and class_id is not None:
            return statistics.classes[class_id]
    return None


def _class_modes(atlases: Sequence[Atlas], label: str, n: int) -> list[tuple[Atlas, SignedMode, float]]:
    """The ``n`` signed modes most selective for the class over every served atlas with statistics (each
    atlas's first basis), most selective first."""
    found = []
    for atlas in atlases:
        statistics = atlas.statistics
        class_id = statistics.class_id(label) if statistics is not None else None
        if statistics is None or class_id is None:
            continue
        for mode, selectivity in statistics.class_modes(atlas.basis_axis(atlas.bases[0]), class_id)[:n]:
            found.append((atlas, mode, selectivity))
    return sorted(found, key=lambda item: -item[2])[:n]


def class_preview(atlases: Sequence[Atlas], label: str) -> bytes:
    labelled = atlases_with_class(atlases, label)
    card = _Card(f"Class {label}", f"its most selective modes in {count(len(labelled), 'served model')}")
    size, gap = 248, 24
    modes = _class_modes(atlases, label, 4)
    if not modes:
        card.text((_MARGIN, 200), "No served model's statistics rank a mode for this class.", 26, colour=MUTED)
    for column, (atlas, mode, selectivity) in enumerate(modes):
        x, top = _MARGIN + column * (size + gap), 180
        overlays = _best_overlays(atlas, mode, atlas.bases[0], 1)
        if overlays:
            card.tile(overlays[0], (x, top), size)
        card.text((x, top + size + 12), signed_mode_name(mode), 24, bold=True, width=size)
        card.text((x, top + size + 44), atlas.model_id, 18, colour=MUTED, width=size)
        card.text((x, top + size + 70), f"selectivity {number(selectivity, 2)}", 20, width=size)
    card.text(
        (_MARGIN, HEIGHT - _MARGIN - 16),
        "selectivity: (class mean − mean) / std of the mode's scores; each with its best image and maps",
        17,
        colour=MUTED,
    )
    return card.png()


def site_preview(atlases: Sequence[Atlas]) -> bytes:
    card = _Card(SITE_NAME, "the query-key singular modes of vision transformers")
    card.text((_MARGIN, 190), f"{count(len(atlases), 'model')} served:", 28)
    for line, atlas in enumerate(atlases[:8]):
        shape = f"{count(atlas.n_layers, 'layer')} × {count(atlas.n_heads, 'head')} × {count(atlas.n_modes, 'mode')}"
        card.text((_MARGIN + 20, 240 + 40 * line), f"{atlas.model_id} · {shape}", 26, colour=MUTED)
    if len(atlases) > 8:
        card.text((_MARGIN + 20, 240 + 40 * 8), f"and {len(atlases) - 8} more", 26, colour=MUTED)
    return card.png()


async def cached_preview(renders: Cache, ttl_s: int, key: str, draw: Callable[[], bytes]) -> bytes:
    """The preview named ``key`` (which names every revision it derives from) from ``renders``, else drawn
    (in a thread: drawing holds no lock the event loop needs)."""
    full_key = f"qk:preview:v{PREVIEW_VERSION}:r{RENDERING_VERSION}:{key}"
    data = await renders.get(full_key)
    if data is None:
        data = await asyncio.to_thread(draw)
        await renders.set(full_key, data, ttl_s)
    return data


def preview_key(atlases: Sequence[Atlas], *parts: object) -> str:
    return ":".join([served_revision(atlases), *map(str, parts)])
