"""Overlay rendering (docs/method.md#rendering) on planted maps."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from qkatlas.render import (
    PALETTE_COLOURS,
    Channel,
    MapScale,
    Palette,
    encode_png,
    intensity,
    map_scale,
    mark_peaks,
    patch_bounds,
    peak_patch,
    render_overlay,
)

T, SIZE = 4, 64  # 16 px per patch
SCALE = MapScale(query=5.0, key=5.0)  # a hot cell (5.0) at full intensity


def _hot(row: int, col: int) -> np.ndarray:
    grid = np.zeros((T, T), np.float32)
    grid[row, col] = 5.0
    return grid


def _patch(rgb: np.ndarray, row: int, col: int) -> np.ndarray:
    block = rgb[row * 16 : (row + 1) * 16, col * 16 : (col + 1) * 16].reshape(-1, 3)
    first: np.ndarray = block[0]
    assert (block == first).all(), "a patch must render as one uniform block"
    return first


def test_intensity_is_the_value_over_the_shared_scale_clipped_to_unit_range() -> None:
    values = np.array([[-2.0, 0.0, 1.0, 2.5, 5.0, 7.0]], np.float32)
    assert intensity(values, 5.0) == pytest.approx(np.array([[0.0, 0.0, 0.2, 0.5, 1.0, 1.0]]))
    assert (intensity(values, 0.0) == 0).all()  # a mode whose maps never exceed 0 shows no colour


def test_map_scale_is_each_maps_largest_value_over_the_images_floored_at_zero() -> None:
    first = (np.array([[1.0, -9.0]]), np.array([[-1.0, -2.0]]))
    second = (np.array([[3.0, 2.0]]), np.array([[-0.5, -3.0]]))
    assert map_scale([first, second]) == MapScale(query=3.0, key=0.0)


def test_two_images_of_one_mode_are_drawn_on_one_scale() -> None:
    # The second image's maps are half the first's: on the mode's scale its colours are half as strong
    # (each map's own normalization would draw both alike).
    strong, weak = _hot(1, 1), _hot(1, 1) / 2
    scale = map_scale([(strong, strong), (weak, weak)])
    assert scale == MapScale(query=5.0, key=5.0)
    assert _patch(render_overlay(strong, strong, size=SIZE, channel=Channel.query, scale=scale), 1, 1)[0] == 255
    assert _patch(render_overlay(weak, weak, size=SIZE, channel=Channel.query, scale=scale), 1, 1)[0] == 128


def test_flat_zero_map_renders_black() -> None:
    flat = np.zeros((T, T), np.float32)
    assert (render_overlay(flat, flat, size=SIZE, scale=SCALE) == 0).all()


def test_hot_query_cell_is_red_hot_key_cell_is_cyan_overlap_is_white() -> None:
    query, key = _hot(1, 2), _hot(3, 0)
    rgb = render_overlay(query, key, size=SIZE, scale=SCALE)
    assert rgb.shape == (SIZE, SIZE, 3) and rgb.dtype == np.uint8
    assert _patch(rgb, 1, 2).tolist() == [255, 0, 0]
    assert _patch(rgb, 3, 0).tolist() == [0, 255, 255]
    assert _patch(rgb, 0, 0).tolist() == [0, 0, 0]
    both = render_overlay(_hot(2, 2), _hot(2, 2), size=SIZE, scale=SCALE)
    assert _patch(both, 2, 2).tolist() == [255, 255, 255]


def test_grid_is_row_major() -> None:
    query = np.zeros(T * T, np.float32)
    query[1 * T + 3] = 5.0  # row 1, column 3
    rgb = render_overlay(
        query.reshape(T, T), np.zeros((T, T), np.float32), size=SIZE, scale=SCALE, channel=Channel.query
    )
    assert _patch(rgb, 1, 3)[0] == 255 and _patch(rgb, 3, 1)[0] == 0


@pytest.mark.parametrize(
    ("channel", "query_on", "key_on"),
    [(Channel.query, True, False), (Channel.key, False, True), (Channel.both, True, True)],
)
def test_channel_selects_maps(channel: Channel, query_on: bool, key_on: bool) -> None:
    rgb = render_overlay(_hot(0, 0), _hot(3, 3), size=SIZE, scale=SCALE, channel=channel)
    assert (_patch(rgb, 0, 0).sum() > 0) == query_on
    assert (_patch(rgb, 3, 3).sum() > 0) == key_on


@pytest.mark.parametrize("palette", list(Palette))
def test_palettes_are_additive_complements(palette: Palette) -> None:
    query_colour, key_colour = PALETTE_COLOURS[palette]
    assert np.allclose(np.add(query_colour, key_colour), 1.0)
    rgb = render_overlay(_hot(0, 0), _hot(0, 1), size=SIZE, scale=SCALE, palette=palette)
    assert _patch(rgb, 0, 0).tolist() == [round(c * 255) for c in query_colour]
    assert _patch(rgb, 0, 1).tolist() == [round(c * 255) for c in key_colour]


def _photo() -> np.ndarray:
    photo = np.zeros((SIZE, SIZE, 3), np.uint8)
    photo[..., 0], photo[..., 1], photo[..., 2] = 40, 200, 120  # a teal-green photo
    return photo


def test_blend_shows_the_dimmed_colour_photo_under_cold_patches_only() -> None:
    rgb = render_overlay(_hot(1, 1), _hot(2, 2), size=SIZE, scale=SCALE, photo=_photo(), blend=0.5)
    assert _patch(rgb, 0, 0).tolist() == [20, 100, 60]  # cold: the photo at half brightness, in colour
    assert _patch(rgb, 1, 1).tolist() == [255, 0, 0]  # fully hot: map colour, no photo
    no_blend = render_overlay(_hot(1, 1), _hot(2, 2), size=SIZE, scale=SCALE, photo=_photo(), blend=0.0)
    assert _patch(no_blend, 0, 0).tolist() == [0, 0, 0]


def test_opacity_scales_the_maps_and_lets_the_photo_through() -> None:
    query = np.zeros((T, T), np.float32)
    query[0, :] = 1.0, 2.0, 2.0, 2.0  # intensities 0.5 and 1 on a scale of 2
    rgb = render_overlay(
        query,
        query,
        size=SIZE,
        scale=MapScale(2.0, 2.0),
        channel=Channel.query,
        photo=_photo(),
        blend=0.8,
        opacity=0.25,
    )
    # out = opacity·colour + (1 − opacity·alpha)·blend·photo, by hand per channel (red query colour):
    # cell (0, 1): alpha 1   → [0.25·255 + 0.75·0.8·40, 0.75·0.8·200, 0.75·0.8·120] = [87.75, 120, 72]
    # cell (0, 0): alpha 0.5 → [0.125·255 + 0.875·0.8·40, 0.875·0.8·200, 0.875·0.8·120] = [59.875, 140, 84]
    assert _patch(rgb, 0, 1).tolist() == [88, 120, 72]
    assert _patch(rgb, 0, 0).tolist() == [60, 140, 84]
    assert _patch(rgb, 3, 3).tolist() == [32, 160, 96]  # cold: 0.8 · photo


def test_zero_opacity_shows_the_photo_alone() -> None:
    rgb = render_overlay(_hot(1, 1), _hot(2, 2), size=SIZE, scale=SCALE, photo=_photo(), blend=1.0, opacity=0.0)
    assert np.array_equal(rgb, _photo())


def test_non_divisible_size_upsamples_by_nearest_patch() -> None:
    rgb = render_overlay(_hot(0, 0), np.zeros((T, T), np.float32), size=70, scale=SCALE, channel=Channel.query)
    assert rgb.shape == (70, 70, 3)
    assert rgb[0, 0, 0] == 255 and rgb[69, 69, 0] == 0


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError):
        render_overlay(np.zeros((2, 3)), np.zeros((2, 3)), size=SIZE, scale=SCALE)
    with pytest.raises(ValueError, match="blend"):
        render_overlay(_hot(0, 0), _hot(0, 0), size=SIZE, scale=SCALE, blend=1.5)
    with pytest.raises(ValueError, match="opacity"):
        render_overlay(_hot(0, 0), _hot(0, 0), size=SIZE, scale=SCALE, opacity=-0.1)


def test_encode_png_round_trips() -> None:
    rgb = render_overlay(_hot(1, 2), _hot(3, 0), size=SIZE, scale=SCALE)
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(rgb))))
    assert np.array_equal(decoded, rgb)


def _ring_patches(rgb: np.ndarray, grid: int, size: int) -> list[tuple[int, int]]:
    """The patches whose own edge is drawn as the query peak's ring: a white line 2 px wide inside the
    patch's edge, with a black pixel either side (found from the pixels alone)."""
    found = []
    for row in range(grid):
        for col in range(grid):
            y0, (x0, x1) = patch_bounds(row, grid, size)[0], patch_bounds(col, grid, size)
            inner, border, inside = rgb[y0 : y0 + 2, x0:x1], rgb[max(y0 - 1, 0), x0:x1], rgb[y0 + 2, x0 + 3 : x1 - 3]
            if (inner == 255).all() and (y0 == 0 or (border == 0).all()) and (inside == 0).all():
                found.append((row, col))
    return found


def _brute_force_argmax(values: np.ndarray) -> tuple[int, int]:
    best = None
    for row in range(values.shape[0]):
        for col in range(values.shape[1]):
            if best is None or values[row, col] > values[best]:
                best = (row, col)
    assert best is not None
    return best


@pytest.mark.parametrize("seed", range(5))
def test_mark_peaks_outlines_the_argmax_of_each_map(seed: int) -> None:
    grid, size = 7, 112
    rng = np.random.default_rng(seed)
    query, key = rng.normal(size=(grid, grid)).astype(np.float32), rng.normal(size=(grid, grid)).astype(np.float32)
    black = np.zeros((size, size, 3), np.uint8)  # maps are drawn elsewhere; only the outlines here
    marked = mark_peaks(black, query, key)
    assert _ring_patches(marked, grid, size) == [_brute_force_argmax(query)]
    # The key peak's dashed ring: alternating white and black dashes 3 px outside its patch.
    row, col = _brute_force_argmax(key)
    assert peak_patch(key) == (row, col)
    (y0, _), (x0, x1) = patch_bounds(row, grid, size), patch_bounds(col, grid, size)
    if y0 >= 5:
        line = marked[y0 - 5, max(x0 - 5, 0) : x1 + 5, 0]
        assert (
            set(line.tolist()) == {0, 255}
            and (marked[y0 - 4, max(x0 - 5, 0) : x1 + 5] == marked[y0 - 5, max(x0 - 5, 0) : x1 + 5]).all()
        )
        assert (marked[y0 - 3 : y0 - 1, x0:x1] == 0).all()  # the gap between it and the patch


def test_peaks_on_one_patch_show_both_outlines() -> None:
    grid, size = 4, 64
    query = key = _hot(2, 1)
    marked = mark_peaks(np.zeros((size, size, 3), np.uint8), query, key)
    assert _ring_patches(marked, grid, size) == [(2, 1)]
    assert set(marked[32 - 5, 16 - 5 : 32 + 5, 0].tolist()) == {0, 255}  # the dashed key ring around it


def test_peak_patch_takes_the_first_in_row_major_order_on_a_tie() -> None:
    values = np.zeros((3, 3), np.float32)
    values[2, 0] = values[1, 2] = 1.0
    assert peak_patch(values) == (1, 2)
