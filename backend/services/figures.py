"""Figures of a signed mode and of a head for papers (docs/method.md#figures): the top images with their maps (as
the overlays draw them), the mode's samples across its distribution, numbered colour bars and a caption naming
what is shown. Drawn by ``qkatlas.figures`` once per atlas revision, options and format, then cached."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from backend.core.cache import Cache
from backend.core.config import Settings
from backend.core.text import count, number
from backend.schemas import Basis, Sign
from backend.services.analysis.analyzers import ModelUnavailable
from backend.services.analysis.runner import AnalysisRunner
from backend.services.dataset_images import DatasetImageUnavailable, image_source
from backend.services.mode_views import listed_top_images, mode_scale
from backend.services.overlays import OverlayOptions, overlay_pixels, photo_pixels
from backend.services.upload_results import analysed_mode_maps
from qkatlas.atlas import Atlas
from qkatlas.atlas.statistics import DistributionBand, SampledImage, SignedMode
from qkatlas.figures import ColourBar, FigureFormat, FigureSpec, Panel, PanelRow, draw_figure
from qkatlas.render import Channel, MapScale, Palette

#: Changes whenever the same request draws a different figure (cache keys and ETags carry it).
FIGURE_VERSION = 2
#: A mode figure's top images (one row) and a head figure's modes (one row each) and images per mode.
MODE_TOP_IMAGES, HEAD_MODES, HEAD_TOP_IMAGES = 8, 4, 5
#: Panels are drawn at about this many pixels of the 300-dpi PNG (0.75 in), by whole pixels per image pixel
#: for a smaller model input.
PANEL_PX = 224
#: Where a colour bar is numbered (as the dashboard's), and a narrow one (a head figure's rows).
TICK_FRACTIONS, SHORT_TICK_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0), (0.0, 0.5, 1.0)
#: What each palette calls the query and the key map's colour.
COLOUR_NAMES = {Palette.red_cyan: ("red", "cyan"), Palette.orange_blue: ("orange", "blue")}
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class FigureSubject:
    """What a figure shows and from which model and atlas: everything its caption names."""

    model_id: str
    weights_revision: str | None
    atlas: str
    atlas_revision: str
    dataset: str
    n_images: int
    layer: int
    head: int
    mode: int | None  # None: the head's figure
    sign: Sign
    basis: Basis

    @property
    def name(self) -> str:
        """As the dashboard names it: "L3 H2 M0" (or "L3 H2" for a head)."""
        return f"L{self.layer} H{self.head}" + (f" M{self.mode}" if self.mode is not None else "")

    @property
    def filename(self) -> str:
        """The download's file name, without the extension: qkatlas_<model>_L3H2M0_pos_faithful_<revision>."""
        model = re.sub(r"[^A-Za-z0-9._-]+", "-", self.model_id).strip("-")
        return (
            f"qkatlas_{model}_{self.name.replace(' ', '')}_{self.sign.value}_{self.basis.value}_{self.atlas_revision}"
        )


def subject(atlas: Atlas, layer: int, head: int, mode: int | None, sign: Sign, basis: Basis) -> FigureSubject:
    manifest = atlas.manifest
    return FigureSubject(
        model_id=atlas.model_id,
        weights_revision=manifest.model.revision,
        atlas=atlas.slug,
        atlas_revision=atlas.revision,
        dataset=manifest.dataset.name,
        n_images=manifest.dataset.n_images,
        layer=layer,
        head=head,
        mode=mode,
        sign=sign,
        basis=basis,
    )


def figure_caption(subject: FigureSubject, options: OverlayOptions) -> tuple[str, ...]:
    """The caption lines: which model (and weights), atlas and dataset; which layer, head, mode, sign and basis;
    how the overlays are drawn."""
    query_colour, key_colour = COLOUR_NAMES[options.palette]
    what = f"layer {subject.layer}, head {subject.head}"
    what += f", mode {subject.mode}" if subject.mode is not None else ""
    maps = {
        Channel.both: f"query map in {query_colour}, key map in {key_colour}",
        Channel.query: f"query map in {query_colour}",
        Channel.key: f"key map in {key_colour}",
    }[options.channel]
    return (
        f"{subject.name} ({what}), sign {subject.sign.value}, {subject.basis.value} basis. "
        f"Model {subject.model_id}, weights revision {subject.weights_revision or NOT_RECORDED}; "
        f"qkatlas atlas {subject.atlas} revision {subject.atlas_revision}; "
        f"dataset {subject.dataset} ({count(subject.n_images, 'image')}).",
        f"Overlays: {maps} over the image as the model saw it (map opacity {number(options.opacity, 2)}, photo "
        f"brightness {number(options.blend, 2)}); a map value x is drawn at intensity clip(x / s, 0, 1), s being its "
        "colour bar's top.",
        "Solid box: the patch of the query map's maximum; dashed box: the key map's. An image's score is the "
        "product of these two values.",
    )


def panel_size(image_size: int) -> int:
    """Pixels of the 300-dpi PNG per panel: ``PANEL_PX``, or a whole multiple of a smaller model input."""
    return image_size * (PANEL_PX // image_size) if image_size < PANEL_PX else PANEL_PX


def colour_bars(scale: MapScale, options: OverlayOptions, *, short: bool = False) -> tuple[ColourBar, ...]:
    """The numbered bars of the maps the overlays show, in map values (``x`` of ``P_U = X·u``, ``P_V = X·v``),
    0 to the mode's scale (the value drawn at full colour)."""
    names = COLOUR_NAMES[options.palette]
    bars = []
    for map_, colour, top in ((Channel.query, names[0], scale.query), (Channel.key, names[1], scale.key)):
        if options.channel not in (map_, Channel.both):
            continue
        symbol = "P_U = X·u" if map_ == Channel.query else "P_V = X·v"
        title = f"{map_.value} map ({colour})" if short else f"{map_.value} map {symbol} ({colour}), value"
        fractions = SHORT_TICK_FRACTIONS if short else TICK_FRACTIONS
        ticks = tuple("≤ 0" if at == 0 else number(top * at, 2) for at in fractions) if top > 0 else ()
        bars.append(ColourBar(title=title if top > 0 else f"{title}: no value above 0", map=map_, top=top, ticks=ticks))
    return tuple(bars)


def _top_panels(atlas: Atlas, mode: SignedMode, basis: Basis, options: OverlayOptions, limit: int) -> tuple[Panel, ...]:
    """Overlays of the signed mode's first ``limit`` listed top images, best first, labelled as the dashboard's."""
    scale = mode_scale(atlas, basis, mode)
    size = panel_size(atlas.image_size)
    panels = []
    for winner in listed_top_images(atlas, basis, mode)[:limit]:
        assert scale is not None, "a listed top image makes the mode's scale"
        query, key = atlas.maps(basis, mode.layer, mode.head, mode.mode, mode.sign, winner.rank)
        photo = atlas.thumbnail(winner.dataset_index)
        pixels = overlay_pixels(query, key, size=size, options=options, scale=scale, photo=photo)
        record = atlas.image_meta(winner.dataset_index)
        label = record.label if record is not None and record.label else f"image {winner.dataset_index}"
        panels.append(Panel(pixels, (f"#{winner.rank + 1} · {number(winner.score)}", label)))
    return tuple(panels)


def chosen_samples(atlas: Atlas, mode: SignedMode, basis: Basis) -> list[tuple[DistributionBand, SampledImage]] | None:
    """The first sampled image of each band that has one, highest band first (at most ``MODE_TOP_IMAGES``); None
    when the atlas has no samples."""
    statistics = atlas.statistics
    if statistics is None or not statistics.has_samples:
        return None
    bands = reversed(statistics.bands(atlas.basis_axis(basis), mode))
    return [(band, band.images[0]) for band in bands if band.images][:MODE_TOP_IMAGES]


#: Dataset index → the signed mode's query and key maps ``[T, T]`` of a sampled image.
SampleMaps = Mapping[int, tuple[np.ndarray, np.ndarray]]


async def sample_maps(
    analysis: AnalysisRunner, atlas: Atlas, mode: SignedMode, basis: Basis, *, ttl_s: int, max_bytes: int
) -> SampleMaps | None:
    """The maps of the mode's chosen samples, computed as the mode page's large view computes them (the dataset
    image analysed with the atlas's model: ``backend.services.dataset_images``); None when the model cannot run
    here. An image with neither its file nor a stored crop is left out."""
    maps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if mode_scale(atlas, basis, mode) is None:
        return maps  # no scale to draw them on: photos only
    for _, sampled in chosen_samples(atlas, mode, basis) or []:
        record = atlas.image_meta(sampled.index)
        if record is None:
            continue

        async def thumbnail(index: int = sampled.index) -> bytes | None:
            return atlas.thumbnail(index)

        try:
            source = await image_source(atlas, sampled.index, record, thumbnail=thumbnail, max_bytes=max_bytes)
        except DatasetImageUnavailable:
            continue
        try:
            head = await analysis.subject_head(source.subject(ttl_s), atlas, mode.layer, mode.head)
        except ModelUnavailable:
            return None
        query, key, _ = analysed_mode_maps(head, atlas, basis, mode)
        maps[sampled.index] = (query, key)
    return maps


def _sample_row(
    atlas: Atlas, mode: SignedMode, basis: Basis, options: OverlayOptions, maps: SampleMaps | None
) -> PanelRow | None:
    """The chosen samples, with their maps on the mode's scale where ``maps`` has them, else as photos; None when
    the atlas has no samples."""
    chosen = chosen_samples(atlas, mode, basis)
    if chosen is None:
        return None
    size, scale = panel_size(atlas.image_size), mode_scale(atlas, basis, mode)
    panels: list[Panel] = []
    for band, sampled in chosen:
        photo = atlas.thumbnail(sampled.index)
        found = maps.get(sampled.index) if maps is not None else None
        if found is not None and scale is not None:
            pixels = overlay_pixels(*found, size=size, options=options, scale=scale, photo=photo)
        elif photo is not None:
            pixels = photo_pixels(photo, size)
        else:
            continue
        lines = (f"score {number(sampled.score)}", f"{number(band.low, 2)} … {number(band.high, 2)}")
        panels.append(Panel(pixels, lines))
    heading = "Across the distribution: a sampled image per score band (score, band), highest band first"
    if maps is None:
        heading += " (photos only: the model cannot run on this server to compute their maps)"
    elif scale is None:
        heading += " (photos only: without top images the mode has no colour scale)"
    else:
        heading += ", on the same scale"
    return PanelRow(heading, tuple(panels), note=None if panels else "no band has a sampled image")


def mode_figure(
    atlas: Atlas,
    mode: SignedMode,
    basis: Basis,
    options: OverlayOptions,
    fmt: FigureFormat,
    samples: SampleMaps | None,
) -> bytes:
    """The signed mode's first ``MODE_TOP_IMAGES`` top images with their maps, one sampled image per band of its
    distribution (where the atlas has samples; with their ``samples`` maps), the colour bars of the maps and the
    caption."""
    about = subject(atlas, mode.layer, mode.head, mode.mode, mode.sign, basis)
    listed = listed_top_images(atlas, basis, mode)
    top = _top_panels(atlas, mode, basis, options, MODE_TOP_IMAGES)
    heading = f"{about.name} ({mode.sign.value}, {basis.value} basis): top images, best first (#rank · score, class)"
    if len(listed) > len(top):
        heading += f" (the first {len(top)} of {count(len(listed), 'listed')})"
    rows = [PanelRow(heading, top, note=None if top else "no top image is evidence for this mode")]
    sample_row = _sample_row(atlas, mode, basis, options, samples)
    if sample_row is not None:
        rows.append(sample_row)
    scale = mode_scale(atlas, basis, mode)
    bars = colour_bars(scale, options) if scale is not None else ()
    caption = (
        *figure_caption(about, options),
        f"Colour bars: map values, one scale for every image of the mode; full colour at the largest value over its "
        f"{count(len(listed), 'listed top image')}; values ≤ 0 show no colour.",
    )
    spec = FigureSpec(tuple(rows), bars, options.palette, options.blend, options.opacity, caption)
    return draw_figure(spec, fmt, columns=MODE_TOP_IMAGES)


def head_figure(
    atlas: Atlas, layer: int, head: int, sign: Sign, basis: Basis, options: OverlayOptions, fmt: FigureFormat
) -> bytes:
    """The head's first ``HEAD_MODES`` active modes (largest σ first), one row each: its σ, its first top images
    with their maps and its own colour bars (each mode has its own scale)."""
    about = subject(atlas, layer, head, None, sign, basis)
    sigma = atlas.sigma(layer, head)
    total = float(sigma.sum())
    active = [int(m) for m in range(atlas.n_modes) if atlas.active(layer, head)[m]][:HEAD_MODES]
    rows = []
    for index, m in enumerate(active):
        mode = SignedMode(layer, head, m, sign)
        panels = _top_panels(atlas, mode, basis, options, HEAD_TOP_IMAGES)
        scale = mode_scale(atlas, basis, mode)
        share = f"{100 * float(sigma[m]) / total:.1f} % of Σσ" if total > 0 else ""
        rows.append(
            PanelRow(
                heading=(
                    f"{about.name} ({sign.value}, {basis.value} basis): its first {count(len(active), 'active mode')}, "
                    "top images best first (#rank · score, class)"
                    if index == 0
                    else None
                ),
                panels=panels,
                label=(f"M{m}", f"σ = {number(float(sigma[m]))}", share),
                bars=colour_bars(scale, options, short=True) if scale is not None else (),
                note=None if panels else "no top image is evidence for this mode",
            )
        )
    if not rows:
        rows.append(PanelRow(f"{about.name}: inactive (σ = 0)", (), note="the head has no active mode"))
    caption = (
        *figure_caption(about, options),
        "Colour bars: map values; each row has its mode's own scale, full colour at the largest value over its listed "
        "top images; values ≤ 0 show no colour.",
    )
    spec = FigureSpec(tuple(rows), (), options.palette, options.blend, options.opacity, caption)
    return draw_figure(spec, fmt, columns=HEAD_TOP_IMAGES, label_px=230, side_bars_px=300)


def _cache_key(
    kind: str, atlas: Atlas, where: str, sign: Sign, basis: Basis, options: OverlayOptions, fmt: FigureFormat
) -> str:
    return (
        f"qk:figure:v{FIGURE_VERSION}:{kind}:{atlas.slug}:{atlas.revision}:{basis.value}:{where}:{sign.value}:"
        f"{options.cache_key()}:{fmt.value}"
    )


async def cached_mode_figure(
    renders: Cache,
    analysis: AnalysisRunner,
    settings: Settings,
    atlas: Atlas,
    mode: SignedMode,
    basis: Basis,
    options: OverlayOptions,
    fmt: FigureFormat,
) -> bytes:
    """``mode_figure``, drawn off the event loop on the first request for it (its samples' maps from the analysis
    runner), then from ``renders``. Raises ``AtlasReplaced`` when the atlas's thumbnails went with a rebuild, and
    ``AnalysisBusy`` when the samples' analyses find the queue full."""
    ttl_s = settings.overlay_ttl_s
    key = _cache_key("mode", atlas, f"{mode.layer}:{mode.head}:{mode.mode}", mode.sign, basis, options, fmt)
    data = await renders.get(key)
    if data is None:
        samples = await sample_maps(analysis, atlas, mode, basis, ttl_s=ttl_s, max_bytes=settings.max_upload_bytes)
        data = await asyncio.to_thread(mode_figure, atlas, mode, basis, options, fmt, samples)
        await renders.set(key, data, ttl_s)
    return data


async def cached_head_figure(
    renders: Cache,
    ttl_s: int,
    atlas: Atlas,
    layer: int,
    head: int,
    sign: Sign,
    basis: Basis,
    options: OverlayOptions,
    fmt: FigureFormat,
) -> bytes:
    """``head_figure``, drawn off the event loop on the first request for it, then from ``renders``."""
    key = _cache_key("head", atlas, f"{layer}:{head}", sign, basis, options, fmt)
    data = await renders.get(key)
    if data is None:
        data = await asyncio.to_thread(head_figure, atlas, layer, head, sign, basis, options, fmt)
        await renders.set(key, data, ttl_s)
    return data
