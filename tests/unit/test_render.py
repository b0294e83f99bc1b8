"""Overlay rendering (docs/method.md#rendering) on planted maps."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from qkatlas.render import (
    PALETTE_COLOURS,
    Channel,
    Palette,
    clip_range,
    encode_png,
    normalize_map,
    render_overlay,
)

T, SIZE = 4, 64  # 16 px per patch


def _hot(row: int, col: int) -> np.ndarray:
    grid = np.zeros((T, T), np.float32)
    grid[row, col] = 5.0
    return grid


def _patch(rgb: np.ndarray, row: int, col: int) -> np.ndarray:
    block = rgb[row * 16 : (row + 1) * 16, col * 16 : (col + 1) * 16].reshape(-1, 3)
    first: np.ndarray = block[0]
    assert (block == first).all(), "a patch must render as one uniform block"
    return first


def test_clip_range_is_30th_to_95th_percentile() -> None:
    values = np.arange(101, dtype=np.float32)
    assert clip_range(values) == pytest.approx((30.0, 95.0))


def test_normalize_map_clips_and_scales_to_unit_range() -> None:
    values = np.arange(101, dtype=np.float32).reshape(1, 101)
    norm = normalize_map(values)
    assert norm.min() == 0.0 and norm.max() == 1.0
    assert (norm[0, :31] == 0).all() and (norm[0, 95:] == 1).all()
    assert norm[0, 60] == pytest.approx((60 - 30) / 65)


def test_flat_map_renders_black() -> None:
    flat = np.full((T, T), 3.0, np.float32)
    assert (normalize_map(flat) == 0).all()
    assert (render_overlay(flat, flat, size=SIZE) == 0).all()


def test_hot_query_cell_is_red_hot_key_cell_is_cyan_overlap_is_white() -> None:
    query, key = _hot(1, 2), _hot(3, 0)
    rgb = render_overlay(query, key, size=SIZE)
    assert rgb.shape == (SIZE, SIZE, 3) and rgb.dtype == np.uint8
    assert _patch(rgb, 1, 2).tolist() == [255, 0, 0]
    assert _patch(rgb, 3, 0).tolist() == [0, 255, 255]
    assert _patch(rgb, 0, 0).tolist() == [0, 0, 0]
    both = render_overlay(_hot(2, 2), _hot(2, 2), size=SIZE)
    assert _patch(both, 2, 2).tolist() == [255, 255, 255]


def test_grid_is_row_major() -> None:
    query = np.zeros(T * T, np.float32)
    query[1 * T + 3] = 1.0  # row 1, column 3
    rgb = render_overlay(query.reshape(T, T), np.zeros((T, T), np.float32), size=SIZE, channel=Channel.query)
    assert _patch(rgb, 1, 3)[0] == 255 and _patch(rgb, 3, 1)[0] == 0


@pytest.mark.parametrize(
    ("channel", "query_on", "key_on"),
    [(Channel.query, True, False), (Channel.key, False, True), (Channel.both, True, True)],
)
def test_channel_selects_maps(channel: Channel, query_on: bool, key_on: bool) -> None:
    rgb = render_overlay(_hot(0, 0), _hot(3, 3), size=SIZE, channel=channel)
    assert (_patch(rgb, 0, 0).sum() > 0) == query_on
    assert (_patch(rgb, 3, 3).sum() > 0) == key_on


@pytest.mark.parametrize("palette", list(Palette))
def test_palettes_are_additive_complements(palette: Palette) -> None:
    query_colour, key_colour = PALETTE_COLOURS[palette]
    assert np.allclose(np.add(query_colour, key_colour), 1.0)
    rgb = render_overlay(_hot(0, 0), _hot(0, 1), size=SIZE, palette=palette)
    assert _patch(rgb, 0, 0).tolist() == [round(c * 255) for c in query_colour]
    assert _patch(rgb, 0, 1).tolist() == [round(c * 255) for c in key_colour]


def _photo() -> np.ndarray:
    photo = np.zeros((SIZE, SIZE, 3), np.uint8)
    photo[..., 0], photo[..., 1], photo[..., 2] = 40, 200, 120  # a teal-green photo
    return photo


def test_blend_shows_the_dimmed_colour_photo_under_cold_patches_only() -> None:
    rgb = render_overlay(_hot(1, 1), _hot(2, 2), size=SIZE, photo=_photo(), blend=0.5)
    assert _patch(rgb, 0, 0).tolist() == [20, 100, 60]  # cold: the photo at half brightness, in colour
    assert _patch(rgb, 1, 1).tolist() == [255, 0, 0]  # fully hot: map colour, no photo
    no_blend = render_overlay(_hot(1, 1), _hot(2, 2), size=SIZE, photo=_photo(), blend=0.0)
    assert _patch(no_blend, 0, 0).tolist() == [0, 0, 0]


def test_opacity_scales_the_maps_and_lets_the_photo_through() -> None:
    query = np.zeros((T, T), np.float32)
    query[0, :] = 1.0, 2.0, 2.0, 2.0  # normalized: 0.5 and 1 (the 30th/95th percentiles of this map are 0 and 2)
    rgb = render_overlay(query, query, size=SIZE, channel=Channel.query, photo=_photo(), blend=0.8, opacity=0.25)
    # out = opacity·colour + (1 − opacity·alpha)·blend·photo, by hand per channel (red query colour):
    # cell (0, 1): alpha 1   → [0.25·255 + 0.75·0.8·40, 0.75·0.8·200, 0.75·0.8·120] = [87.75, 120, 72]
    # cell (0, 0): alpha 0.5 → [0.125·255 + 0.875·0.8·40, 0.875·0.8·200, 0.875·0.8·120] = [59.875, 140, 84]
    assert _patch(rgb, 0, 1).tolist() == [88, 120, 72]
    assert _patch(rgb, 0, 0).tolist() == [60, 140, 84]
    assert _patch(rgb, 3, 3).tolist() == [32, 160, 96]  # cold: 0.8 · photo


def test_zero_opacity_shows_the_photo_alone() -> None:
    rgb = render_overlay(_hot(1, 1), _hot(2, 2), size=SIZE, photo=_photo(), blend=1.0, opacity=0.0)
    assert np.array_equal(rgb, _photo())


def test_non_divisible_size_upsamples_by_nearest_patch() -> None:
    rgb = render_overlay(_hot(0, 0), np.zeros((T, T), np.float32), size=70, channel=Channel.query)
    assert rgb.shape == (70, 70, 3)
    assert rgb[0, 0, 0] == 255 and rgb[69, 69, 0] == 0


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError):
        render_overlay(np.zeros((2, 3)), np.zeros((2, 3)), size=SIZE)
    with pytest.raises(ValueError, match="blend"):
        render_overlay(_hot(0, 0), _hot(0, 0), size=SIZE, blend=1.5)
    with pytest.raises(ValueError, match="opacity"):
        render_overlay(_hot(0, 0), _hot(0, 0), size=SIZE, opacity=-0.1)


def test_encode_png_round_trips() -> None:
    rgb = render_overlay(_hot(1, 2), _hot(3, 0), size=SIZE)
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(rgb))))
    assert np.array_equal(decoded, rgb)
