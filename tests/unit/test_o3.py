"""Odd-One-Out analysis, pure parts: masks follow the image's resize and crop, area down-scaling,
coverage bookkeeping, query choice, dataset discovery, and which results belong to which atlas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from precompute.reproduce import choose_weights
from qkatlas.images import to_model_input
from qkatlas.images.preprocessing import Preprocessing
from qkatlas.models import ModelSource
from qkatlas.o3 import (
    area_downscale,
    mask_as_model_sees_it,
    open_o3_dataset,
    pick_query,
    region_coverage,
)

SHORTEST = Preprocessing(crop=56, resize=64, resize_mode="shortest", mean=(0.5,) * 3, std=(0.5,) * 3)
EXACT = Preprocessing(crop=56, resize=56, resize_mode="exact", mean=(0.5,) * 3, std=(0.5,) * 3)
PATCH = 8


def _brute_force_area(mask: np.ndarray, patch: int) -> np.ndarray:
    grid = mask.shape[0] // patch
    out = np.zeros((grid, grid))
    for row in range(grid):
        for col in range(grid):
            out[row, col] = mask[row * patch : (row + 1) * patch, col * patch : (col + 1) * patch].mean()
    return out


@pytest.mark.parametrize("size", [56, 60, 61])
def test_area_downscale_matches_brute_force(size: int) -> None:
    mask = np.random.default_rng(size).random((size, size))
    np.testing.assert_allclose(area_downscale(mask, PATCH), _brute_force_area(mask, PATCH), atol=1e-12)


def _rectangle_mask(width: int, height: int, box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=255)
    return mask


def _footprint_coverage(prep: Preprocessing, width: int, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """Coverage of every patch computed in the *original* image: each patch of the crop is mapped
    back through the resize and centre crop to a rectangle of the photo, intersected with ``box``."""
    if prep.resize_mode == "shortest":
        scale = prep.resize / min(width, height)
        resized_w = prep.resize if width <= height else int(prep.resize * width / height)
        resized_h = prep.resize if height <= width else int(prep.resize * height / width)
        scale_x, scale_y = resized_w / width, resized_h / height
        left, top = round((resized_w - prep.crop) / 2), round((resized_h - prep.crop) / 2)
        assert abs(scale_x - scale) < 0.02 and abs(scale_y - scale) < 0.02
    else:
        scale_x, scale_y, left, top = prep.crop / width, prep.crop / height, 0, 0
    grid = prep.crop // PATCH
    coverage = np.zeros((grid, grid))
    for row in range(grid):
        for col in range(grid):
            x0, x1 = (left + col * PATCH) / scale_x, (left + (col + 1) * PATCH) / scale_x
            y0, y1 = (top + row * PATCH) / scale_y, (top + (row + 1) * PATCH) / scale_y
            overlap_x = max(0.0, min(x1, box[2]) - max(x0, box[0]))
            overlap_y = max(0.0, min(y1, box[3]) - max(y0, box[1]))
            coverage[row, col] = overlap_x * overlap_y / ((x1 - x0) * (y1 - y0))
    return coverage


@pytest.mark.parametrize("prep", [SHORTEST, EXACT], ids=["shortest-edge+crop", "exact"])
@pytest.mark.parametrize("size", [(300, 200), (200, 300)], ids=["landscape", "portrait"])
def test_grid_coverage_matches_the_footprint_of_each_patch_in_the_photo(
    prep: Preprocessing, size: tuple[int, int]
) -> None:
    width, height = size
    box = (width // 3 + 7, height // 4 + 3, width // 3 + 90, height // 4 + 61)
    grid = area_downscale(mask_as_model_sees_it(_rectangle_mask(width, height, box), prep), PATCH)
    expected = _footprint_coverage(prep, width, height, box)
    assert grid.shape == expected.shape == (7, 7)
    # Resampling blurs each edge by about one output pixel (1/8 of a patch): partial patches agree to
    # that, fully inside/outside patches exactly, and the total area to a fraction of a patch.
    np.testing.assert_allclose(grid, expected, atol=0.07)
    assert grid.sum() == pytest.approx(expected.sum(), abs=0.1)


@pytest.mark.parametrize("prep", [SHORTEST, EXACT], ids=["shortest-edge+crop", "exact"])
def test_mask_follows_the_images_own_resize_and_crop(prep: Preprocessing) -> None:
    """Painting the mask's region red in the photo: the crop the model sees is red exactly where the
    resampled mask is on (up to the one-pixel blur at the edges)."""
    width, height = 320, 180
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).ellipse((40, 20, 150, 120), fill=255)
    ImageDraw.Draw(mask).polygon([(200, 150), (300, 30), (310, 170)], fill=255)
    photo = Image.new("RGB", (width, height), (20, 20, 200))
    photo.paste((230, 10, 10), mask=mask)
    seen = to_model_input(photo, prep).numpy().astype(float)
    red_in_photo = seen[0] > seen[2]
    mask_on = mask_as_model_sees_it(mask, prep) > 0.5
    assert red_in_photo.any() and (~red_in_photo).any()
    assert (red_in_photo != mask_on).mean() < 0.02


def test_masks_are_binarized_before_resampling() -> None:
    """JPEG ringing (grey values 0-7 and 248-255) must not leak fractional coverage."""
    rng = np.random.default_rng(0)
    values = np.where(np.arange(56)[:, None] < 24, 255 - rng.integers(0, 8, (56, 56)), rng.integers(0, 8, (56, 56)))
    mask = Image.fromarray(values.astype(np.uint8))
    grid = area_downscale(mask_as_model_sees_it(mask, EXACT), PATCH)
    np.testing.assert_array_equal(grid, np.repeat([[1.0], [1.0], [1.0], [0.0], [0.0], [0.0], [0.0]], 7, axis=1))


def test_region_coverage_columns_sum_to_one_and_overlaps_are_shared() -> None:
    target = np.array([[1.0, 0.5], [0.25, 0.0]])
    distractor = np.array([[0.5, 0.25], [0.0, 0.0]])
    coverage = region_coverage(target, distractor)
    assert coverage.shape == (3, 4)
    np.testing.assert_allclose(coverage.sum(axis=0), 1.0)
    np.testing.assert_allclose(coverage[:, 0], [2 / 3, 1 / 3, 0.0], atol=1e-12)  # overlap: scaled to sum 1
    np.testing.assert_allclose(coverage[:, 1], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(coverage[:, 3], [0.0, 0.0, 1.0])


def test_pick_query_takes_the_best_covered_patch_nearest_the_centroid() -> None:
    coverage = np.zeros((5, 5))
    coverage[1:4, 1:4] = 1.0  # nine tied patches: the centre one is nearest the centroid
    assert pick_query(coverage) == 2 * 5 + 2
    corner = np.zeros((5, 5))
    corner[0, :3] = corner[:3, 0] = 1.0  # an L: centroid (0.6, 0.6); (0, 1) and (1, 0) tie, lower index wins
    assert pick_query(corner) == 1
    partial = np.zeros((4, 4))
    partial[3, 2], partial[0, 1] = 0.4, 0.9
    assert pick_query(partial) == 1
    assert pick_query(np.zeros((4, 4))) is None


def test_open_o3_dataset_pairs_masks_by_name_or_stem(tmp_path: Path) -> None:
    for folder in ("images", "targ_images", "dist_images"):
        (tmp_path / folder).mkdir()
    pixel = Image.new("RGB", (4, 4))
    for name in ("a.jpg", "b.png", "c.png"):
        pixel.save(tmp_path / "images" / name)
    pixel.save(tmp_path / "targ_images" / "a.jpg")
    pixel.save(tmp_path / "dist_images" / "a.png")  # same stem, other extension
    pixel.save(tmp_path / "targ_images" / "b.png")
    (tmp_path / "images" / "notes.txt").write_text("not an image")
    dataset = open_o3_dataset(tmp_path)
    assert [item.name for item in dataset.items] == ["a.jpg"]
    assert dataset.items[0].distractor_mask.name == "a.png"
    assert list(dataset.skipped) == [
        {"name": "b.png", "reason": "no distractor mask"},
        {"name": "c.png", "reason": "no target and distractor mask"},
    ]
    assert len(open_o3_dataset(tmp_path, limit=1).skipped) == 0


def test_open_o3_dataset_refuses_a_folder_without_the_layout(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    with pytest.raises(ValueError, match="missing targ_images/, dist_images/"):
        open_o3_dataset(tmp_path)


def test_same_weights_compares_weights_not_bookkeeping() -> None:
    real = ModelSource(id="facebook/dino-vits16", random_init=False, seed=0, revision=None, overrides={})
    assert real.same_weights(ModelSource(id="facebook/dino-vits16"))
    assert real.same_weights(real.model_copy(update={"seed": 7, "planted": False}))  # seed is moot for real weights
    assert not real.same_weights(real.model_copy(update={"random_init": True}))
    random = real.model_copy(update={"random_init": True})
    assert not random.same_weights(random.model_copy(update={"seed": 1}))
    assert not real.same_weights(real.model_copy(update={"overrides": {"depth": 2}}))


def test_forced_random_weights_are_labelled() -> None:
    weights = choose_weights("facebook/dino-vits16", force_random=True)
    assert weights.random_init
    assert weights.label == "RANDOM WEIGHTS — --random-init"
