"""Publication figures: rows of image panels, numbered colour bars and a caption, drawn once with matplotlib
and written as SVG or as a 300-dpi PNG (docs/method.md#figures).

Layout is in pixels of the 300-dpi PNG, so an image panel of ``S`` pixels is drawn 1:1 (no resampling in the
PNG, and the SVG embeds the same pixels at the same size): a second SVG renderer then draws what the PNG shows.
Text is converted to paths in the SVG (``svg.fonttype = path``) in matplotlib's own DejaVu Sans, so the file
needs no font and looks the same everywhere; images are embedded as PNG data, never linked.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

from qkatlas.render import Channel, MapScale, Palette, render_overlay

#: Dots per inch of the PNG; the SVG's user unit is a point, so it prints at the same physical size.
DPI = 300
#: A figure is a page wide (7 inches: a two-column paper's text width).
PAGE_WIDTH_PX = 7 * DPI
MARGIN_PX = 45
#: Font sizes in points: headings, panel labels, captions.
HEADING_PT, LABEL_PT, CAPTION_PT = 7.0, 6.0, 6.0
_TEXT = "#1a1a1a"
_MUTED = "#555555"

_FONT = "DejaVu Sans"
#: matplotlib's settings are global: figures are drawn one at a time, under these settings only.
_RC: dict[Any, Any] = {
    "svg.fonttype": "path",  # text as paths: no font needed to view the SVG
    "svg.hashsalt": "qkatlas",  # stable element ids: the same figure gives the same bytes
    "svg.image_inline": True,  # images embedded, never linked
    "font.family": _FONT,  # ships with matplotlib: no dependence on the server's fonts
    "font.size": LABEL_PT,
    "text.color": _TEXT,
    # Unhinted glyphs in the PNG: laid out as the SVG's paths are, so both formats show the same figure.
    "text.hinting": "none",
}
_LOCK = threading.Lock()
_MEASURE = TextToPath()


def text_width_px(text: str, size: float, weight: str = "normal") -> float:
    """The width of ``text`` in pixels of the PNG, measured in the figure's font."""
    width, _, _ = _MEASURE.get_text_width_height_descent(
        text, FontProperties(family=_FONT, size=size, weight=weight), ismath=False
    )
    return float(width) * DPI / 72


def fit_text(text: str, size: float, width: float) -> str:
    """``text``, cut short with "…" until it is at most ``width`` pixels wide."""
    if text_width_px(text, size) <= width:
        return text
    while len(text) > 1 and text_width_px(f"{text}…", size) > width:
        text = text[:-1]
    return f"{text.rstrip()}…"


def wrap_text(text: str, size: float, width: float, weight: str = "normal") -> tuple[str, ...]:
    """``text`` broken at spaces into lines at most ``width`` pixels wide (a longer word stays whole)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and text_width_px(f"{lines[-1]} {word}", size, weight) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return tuple(lines)


class FigureFormat(StrEnum):
    svg = "svg"
    png = "png"


@dataclass(frozen=True)
class Panel:
    """One image (uint8 RGB ``[S, S, 3]``, drawn at ``S`` pixels of the PNG) and the lines under it."""

    pixels: np.ndarray
    lines: tuple[str, ...]


@dataclass(frozen=True)
class ColourBar:
    """The numbered key to one map's colour: ``top`` is the value drawn at full colour (the mode's scale)."""

    title: str
    map: Channel  # query or key
    top: float
    ticks: tuple[str, ...]  # at 0, ¼, ½, ¾ and 1 of ``top``


@dataclass(frozen=True)
class PanelRow:
    """A heading, then panels side by side; ``label`` (lines left of the panels) and ``bars`` (right of them)
    are for figures whose rows each have their own scale."""

    heading: str | None
    panels: tuple[Panel, ...]
    label: tuple[str, ...] = ()
    bars: tuple[ColourBar, ...] = ()
    note: str | None = None  # in place of the panels when there are none


@dataclass(frozen=True)
class FigureSpec:
    rows: tuple[PanelRow, ...]
    bars: tuple[ColourBar, ...]  # under every row (one scale for the whole figure)
    palette: Palette
    blend: float
    opacity: float
    caption: tuple[str, ...]


def _points_px(points: float) -> float:
    return points * DPI / 72


def bar_pixels(bar: ColourBar, *, palette: Palette, blend: float, opacity: float, width: int) -> np.ndarray:
    """The colour bar as uint8 RGB ``[1, width, 3]``: values 0 … ``top`` drawn by the overlay renderer itself over
    a mid-grey photo (as the dashboard's bar), so the bar's colours are the overlays' exactly."""
    values = np.broadcast_to(np.linspace(0.0, max(bar.top, 0.0), width, dtype=np.float32), (width, width))
    zeros = np.zeros((width, width), np.float32)
    query, key = (values, zeros) if bar.map == Channel.query else (zeros, values)
    grey = np.full((width, width, 3), 128, np.uint8)
    scale = MapScale(query=max(bar.top, 0.0), key=max(bar.top, 0.0))
    rgb = render_overlay(
        np.ascontiguousarray(query),
        np.ascontiguousarray(key),
        size=width,
        channel=bar.map,
        palette=palette,
        scale=scale,
        photo=grey,
        blend=blend,
        opacity=opacity,
    )
    return rgb[:1]


class _Canvas:
    """Places things on a figure by pixel boxes from its top-left corner."""

    def __init__(self, figure: Figure, width: int, height: int) -> None:
        self.figure, self.width, self.height = figure, width, height

    def image(self, pixels: np.ndarray, x: float, y: float, w: float, h: float, *, frame: bool = False) -> None:
        # On whole pixels of the PNG, so the PNG draws each image pixel once, as the SVG's viewers do.
        x, y, w, h = round(x), round(y), round(w), round(h)
        axes = self.figure.add_axes((x / self.width, 1 - (y + h) / self.height, w / self.width, h / self.height))
        axes.imshow(pixels, interpolation="none", aspect="auto", extent=(0, 1, 0, 1))
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xticks([])
        axes.set_yticks([])
        for spine in axes.spines.values():
            spine.set_visible(frame)
            spine.set_linewidth(0.4)

    def text(self, x: float, y: float, text: str, *, size: float, weight: str = "normal", colour: str = _TEXT,
             ha: str = "left", va: str = "top") -> None:  # fmt: skip
        self.figure.text(
            x / self.width, 1 - y / self.height, text, fontsize=size, fontweight=weight, color=colour, ha=ha, va=va
        )


def _line_px(points: float) -> float:
    return _points_px(points) * 1.25


_BAR_PX = 30


def _bar_block(bars: tuple[ColourBar, ...]) -> float:
    """Height in pixels of colour bars stacked one under another (``_draw_bars``)."""
    return len(bars) * (2 * _line_px(LABEL_PT) + _BAR_PX + 12)


def _draw_bars(
    canvas: _Canvas, spec: FigureSpec, bars: tuple[ColourBar, ...], x: float, y: float, width: float
) -> float:
    """Colour bars stacked from ``(x, y)``, each a title, the bar and its ticks; returns the y below them."""
    for bar in bars:
        canvas.text(x, y, fit_text(bar.title, LABEL_PT, width), size=LABEL_PT)
        y += _line_px(LABEL_PT)
        strip = bar_pixels(bar, palette=spec.palette, blend=spec.blend, opacity=spec.opacity, width=int(width))
        canvas.image(np.repeat(strip, 2, axis=0), x, y, width, _BAR_PX, frame=True)
        y += _BAR_PX + 4
        n = len(bar.ticks)
        for i, tick in enumerate(bar.ticks):
            at = x + width * i / (n - 1) if n > 1 else x
            ha = "left" if i == 0 else "right" if i == n - 1 else "center"
            canvas.text(at, y, tick, size=LABEL_PT, ha=ha)
        y += _line_px(LABEL_PT) + 8
    return y


def _heading_lines(row: PanelRow, width: float) -> tuple[str, ...]:
    return wrap_text(row.heading, HEADING_PT, width, "bold") if row.heading else ()


def _heading_height(row: PanelRow, width: float) -> float:
    lines = _heading_lines(row, width)
    return len(lines) * _line_px(HEADING_PT) + 6 if lines else 0.0


def _body_height(row: PanelRow, panel: int, label_lines: int) -> float:
    """The height of a row under its heading, with the space before the next row."""
    body = panel + label_lines * _line_px(LABEL_PT) + 4 if row.panels else _line_px(LABEL_PT)
    return max(body, _bar_block(row.bars), len(row.label) * _line_px(LABEL_PT)) + 22


def draw_figure(
    spec: FigureSpec, fmt: FigureFormat, *, columns: int, label_px: int = 0, side_bars_px: int = 0
) -> bytes:
    """The figure as SVG or PNG bytes: ``columns`` panel slots per row (every panel of a figure has one size),
    ``label_px`` for the rows' labels at the left, ``side_bars_px`` for their colour bars at the right."""
    sizes = {panel.pixels.shape[0] for row in spec.rows for panel in row.panels}
    if len(sizes) > 1:
        raise ValueError(f"the panels of a figure must have one size, got {sorted(sizes)}")
    panel = sizes.pop() if sizes else 0
    width = PAGE_WIDTH_PX
    gap = 18
    content = label_px + columns * panel + (columns - 1) * gap + (side_bars_px + 30 if side_bars_px else 0)
    if content > width - 2 * MARGIN_PX:
        raise ValueError(f"{columns} panels of {panel} px do not fit a page width of {width} px")
    left = (width - content) / 2
    label_lines = max((len(p.lines) for row in spec.rows for p in row.panels), default=0)
    caption = tuple(line for paragraph in spec.caption for line in wrap_text(paragraph, CAPTION_PT, content))
    caption_height = len(caption) * _line_px(CAPTION_PT) + 10
    height = MARGIN_PX + sum(_heading_height(row, content) + _body_height(row, panel, label_lines) for row in spec.rows)
    height += _bar_block(spec.bars[:1]) + caption_height + MARGIN_PX
    height = int(np.ceil(height))
    with _LOCK, matplotlib.rc_context(_RC):
        figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")
        canvas = _Canvas(figure, width, height)
        y = float(MARGIN_PX)
        for row in spec.rows:
            for i, line in enumerate(_heading_lines(row, content)):
                canvas.text(left, y + i * _line_px(HEADING_PT), line, size=HEADING_PT, weight="bold")
            y += _heading_height(row, content)
            for i, line in enumerate(row.label):
                canvas.text(left, y + i * _line_px(LABEL_PT), fit_text(line, LABEL_PT, label_px - 10), size=LABEL_PT,
                            weight="bold" if i == 0 else "normal")  # fmt: skip
            x0 = left + label_px
            if not row.panels and row.note:
                canvas.text(x0, y, row.note, size=LABEL_PT, colour=_MUTED)
            for i, item in enumerate(row.panels):
                x = x0 + i * (panel + gap)
                canvas.image(item.pixels, x, y, panel, panel)
                for j, line in enumerate(item.lines):
                    text = fit_text(line, LABEL_PT, panel)
                    at = y + panel + 4 + j * _line_px(LABEL_PT)
                    canvas.text(x, at, text, size=LABEL_PT, colour=_TEXT if j == 0 else _MUTED)
            if row.bars:
                _draw_bars(canvas, spec, row.bars, x0 + columns * panel + (columns - 1) * gap + 30, y, side_bars_px)
            y += _body_height(row, panel, label_lines)
        if spec.bars:
            bar_width = min(900.0, (content - 60) / 2) if len(spec.bars) > 1 else min(900.0, content)
            bottom = y
            for i, bar in enumerate(spec.bars):
                bottom = max(bottom, _draw_bars(canvas, spec, (bar,), left + i * (bar_width + 60), y, bar_width))
            y = bottom
        y += 10
        for i, line in enumerate(caption):
            canvas.text(left, y + i * _line_px(CAPTION_PT), line, size=CAPTION_PT, colour=_MUTED)
        buffer = io.BytesIO()
        if fmt == FigureFormat.svg:
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        else:
            figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
