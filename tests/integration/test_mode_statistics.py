"""Per-mode statistics against brute force, for one process, two ``torchrun`` ranks and a killed and
resumed run, on a tiny random-init ViT and on the planted model over class-labelled images.

The reference scores every image one at a time in float64 numpy (``brute_force_projections``: the
model's own captured tokens projected on the atlas's stored ``u``/``v``), and every statistic is then
computed from those scores with plain numpy: counts, firing counts, mean, std, extremes, the
calibrated bins (from the first ``CALIBRATION_IMAGES`` images), the histogram, class means,
selectivities and both class rankings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qkatlas.atlas import Atlas
from qkatlas.images import open_image_source
from qkatlas.mode_statistics import CALIBRATION_IMAGES, HIGH_MARGIN, LOW_MARGIN, N_BINS, NOISE_FLOOR
from qkatlas.models.planted import generate_planted_images
from tests.helpers.atlases import (
    TINY_OVERRIDES,
    TINY_VIT,
    assert_same_atlas,
    atlas_contents,
    brute_force_projections,
    build_atlas,
    run_killed_then_resumed,
    run_two_ranks,
)

#: Float32 scores on the device against float64 brute force.
RTOL = 2e-4


def _brute_force_scores(atlas: Atlas, images: list[Path]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per basis: ``scores [N, L, H, M, 2]`` (pos, neg by the paper's rule) and ``peaks [N, L, H, M, 2, 2]``
    (each signed mode's query and key peak: max for pos, −min for neg; it fires when both are > 0)."""
    projections = brute_force_projections(atlas, images)
    found = {}
    for basis in atlas.bases:
        query, key = projections[f"{basis.value}_q"], projections[f"{basis.value}_k"]  # [N, L, H, M, P]
        peaks = np.stack(
            [
                np.stack([query.max(-1), key.max(-1)], axis=-1),
                np.stack([-query.min(-1), -key.min(-1)], axis=-1),
            ],
            axis=-2,
        )
        found[basis.value] = (np.asarray(peaks.prod(axis=-1)), np.asarray(peaks))
    return found


def _near_edge(values: np.ndarray, low: np.ndarray, width: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Scores within ``tolerance`` of a bin edge: float32 rounding may put them on either side."""
    position = (values - low) / width
    near: np.ndarray = np.abs(position - np.round(position)) * width < tolerance
    return near


def _check_against_brute_force(atlas: Atlas, images: list[Path], labels: list[str | None]) -> None:
    statistics = atlas.statistics
    assert statistics is not None
    arrays = atlas.arrays
    classes = sorted({label for label in labels if label is not None})
    assert list(statistics.classes) == classes
    class_of = np.array([classes.index(label) if label is not None else -1 for label in labels])
    active = np.repeat(atlas.active_all, 2, axis=-1).reshape((*atlas.active_all.shape, 2))
    for axis, (scores, peaks) in enumerate(_brute_force_scores(atlas, images).values()):
        n_images = len(scores)
        assert (arrays["stats_count"][axis] == n_images).all()
        fires = ((peaks > 0).all(axis=-1)).sum(axis=0)
        unsure = (np.abs(peaks) < 1e-5).any(axis=-1).sum(axis=0)
        assert (np.abs(arrays["stats_firing"][axis] - fires) <= unsure).all()
        mean, std = scores.mean(axis=0), scores.std(axis=0)
        scale = np.abs(scores).max(axis=0) + 1e-6
        # Constant up to rounding: std under NOISE_FLOOR × the largest score magnitude of the layer.
        layer_scale = np.abs(scores).max(axis=(0, 2, 3, 4))[:, None, None, None]
        varies = std > NOISE_FLOOR * layer_scale
        tolerance = np.broadcast_to(RTOL * layer_scale, std.shape)
        np.testing.assert_allclose(arrays["stats_mean"][axis], mean, rtol=RTOL, atol=RTOL * scale.max())
        np.testing.assert_allclose(arrays["stats_std"][axis], std, rtol=RTOL, atol=RTOL * scale.max())
        np.testing.assert_allclose(arrays["stats_min"][axis], scores.min(axis=0), rtol=RTOL, atol=1e-5)
        np.testing.assert_allclose(arrays["stats_max"][axis], scores.max(axis=0), rtol=RTOL, atol=1e-5)

        # The bins: the calibration sample's range widened by the documented margins.
        sample = scores[:CALIBRATION_IMAGES]
        lo, hi = sample.min(axis=0), sample.max(axis=0)
        span = np.where(hi > lo, hi - lo, np.maximum(np.abs(lo), 1.0) * 1e-6)
        low, width = arrays["stats_bin_low"][axis], arrays["stats_bin_width"][axis]
        varying = hi - lo > 1e-4 * scale
        expected_width = span * (1 + LOW_MARGIN + HIGH_MARGIN) / N_BINS
        np.testing.assert_allclose(width[varying], expected_width[varying], rtol=1e-3)
        expected_low = lo - LOW_MARGIN * span - expected_width / 2
        np.testing.assert_allclose(low[varying], expected_low[varying], rtol=RTOL, atol=RTOL * scale.max())
        # The histogram: every score in the bin the documented rule gives, with the stored edges.
        slot = np.clip(np.floor((scores - low) / width), -1, N_BINS).astype(int) + 1
        expected = np.zeros(arrays["stats_histogram"][axis].shape, dtype=np.int64)
        for n in range(n_images):
            np.put_along_axis(
                expected, slot[n][..., None], np.take_along_axis(expected, slot[n][..., None], -1) + 1, -1
            )
        histogram = arrays["stats_histogram"][axis]
        assert (histogram.sum(axis=-1) == n_images).all()
        moved = np.abs(histogram - expected).sum(axis=-1) / 2
        near_edge = _near_edge(scores, low, width, tolerance).sum(axis=0)
        assert (moved <= near_edge)[varies].all()
        assert moved[varies].sum() <= 0.01 * n_images * varies.sum()  # few, at edges; none elsewhere

        # Class means, selectivities, each mode's top class and each class's top mode.
        class_mean = np.stack([scores[class_of == c].mean(axis=0) for c in range(len(classes))])
        np.testing.assert_allclose(arrays["class_mean"][:, axis], class_mean, rtol=RTOL, atol=RTOL * scale.max())
        assert list(arrays["class_count"]) == [int((class_of == c).sum()) for c in range(len(classes))]
        with np.errstate(divide="ignore", invalid="ignore"):
            selectivity = np.where(active & varies, (class_mean - mean) / std, -np.inf)
        clearly_none = (selectivity < -1e-3).all(axis=0)  # every class below the mean: no top class
        selectivity[selectivity <= 0] = -np.inf  # only a class scored above the mean is preferred
        ranked = np.sort(selectivity, axis=0)
        with np.errstate(invalid="ignore"):  # −inf − −inf where no class is defined
            clear = np.isfinite(ranked[-1]) & (ranked[-1] - ranked[-2] > 1e-2)  # no near tie for the top class
        assert (arrays["class_top"][axis][..., 0][clear] == selectivity.argmax(axis=0)[clear]).all()
        np.testing.assert_allclose(
            arrays["class_top_selectivity"][axis][..., 0][clear], ranked[-1][clear], rtol=1e-3, atol=1e-3
        )
        for c in range(len(classes)):
            per_column = selectivity[c].reshape(-1)
            order = np.argsort(-per_column, kind="stable")
            best, second = per_column[order[0]], per_column[order[1]]
            if np.isfinite(best) and best - second > 1e-2:
                assert arrays["class_modes"][c, axis, 0] == order[0]
        assert (arrays["class_top"][axis][~active] == -1).all()  # inactive modes rank no class
        assert (arrays["class_top"][axis][..., 0][clearly_none] == -1).all()
        _check_samples(atlas, axis, scores, peaks, low, width, tolerance, active & varies)
        assert (arrays["sample_indices"][axis][~active] == -1).all()  # inactive modes: no samples
    shown = set(np.unique(arrays["sample_indices"][arrays["sample_indices"] >= 0]).tolist())
    winners = set(np.unique(arrays["topk_indices"][arrays["topk_indices"] >= 0]).tolist())
    assert {int(path.stem) for path in (atlas.path / "thumbs").glob("*.jpg")} == shown | winners
    assert [atlas.image_meta(i) is not None for i in range(len(images))] == [True] * len(images)


def _sample_key(index: int) -> int:
    """The documented sample key (docs/method.md#samples-across-the-distribution), in plain integers."""
    x = index
    for _ in range(2):
        x = ((x ^ (x >> 16)) * 0x45D9F3B) % 2**32
    return ((x ^ (x >> 16)) >> 1) * 2**32 + index


def _check_samples(
    atlas: Atlas,
    axis: int,
    scores: np.ndarray,
    peaks: np.ndarray,
    low: np.ndarray,
    width: np.ndarray,
    tolerance: np.ndarray,
    varying: np.ndarray,
) -> None:
    """Every band's samples are the images of that band with the smallest keys, by brute force: each image's
    band from its float64 score and the stored bins, its key from the documented hash."""
    info = atlas.statistics.info.samples if atlas.statistics is not None else None
    assert info is not None
    arrays, n_images = atlas.arrays, len(scores)
    bins_per_band = N_BINS // info.bands
    band = np.clip(np.floor((scores - low) / width), 0, N_BINS - 1).astype(int) // bins_per_band  # [N, L, H, M, 2]
    keys = np.array([_sample_key(i) for i in range(n_images)])
    # Near a band edge, float32 rounding may put an image in either band: those two bands are not compared.
    band_width = width[None] * bins_per_band
    nearest_edge = np.round((scores - low[None]) / band_width)  # edge e lies between bands e − 1 and e
    near = np.abs(scores - (low[None] + band_width * nearest_edge)) < tolerance[None]
    stored, stored_scores = arrays["sample_indices"][axis], arrays["sample_scores"][axis]
    stored_fires = arrays["sample_fires"][axis]
    checked = 0
    for column in zip(*np.nonzero(varying), strict=True):
        for b in range(info.bands):
            members = np.nonzero(band[(slice(None), *column)] == b)[0]
            expected = members[np.argsort(keys[members])][: info.per_band].tolist()
            got = [int(i) for i in stored[(*column, b)] if i >= 0]
            edges = nearest_edge[(slice(None), *column)][near[(slice(None), *column)]]
            if not np.isin(edges, (b, b + 1)).any():
                assert got == expected, (column, b)
                checked += 1
            for slot, index in enumerate(got):
                np.testing.assert_allclose(
                    stored_scores[(*column, b, slot)], scores[(index, *column)], rtol=RTOL, atol=1e-5
                )
                if (np.abs(peaks[(index, *column)]) > 1e-5).all():
                    assert stored_fires[(*column, b, slot)] == (peaks[(index, *column)] > 0).all()
    assert checked >= 0.75 * varying.sum() * info.bands  # most bands are far from any image's score


def _labelled(root: Path) -> tuple[list[Path], list[str | None]]:
    source = open_image_source(root)
    return [item.path for item in source.items], [item.label for item in source.items]


@pytest.fixture(scope="module")
def many_planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """More images than the calibration sample, so that the bins come from a part of the dataset."""
    directory = tmp_path_factory.mktemp("many-planted")
    generate_planted_images(directory, n=CALIBRATION_IMAGES + 24, seed=1)
    return directory


@pytest.mark.parametrize("model", ["planted", TINY_VIT])
def test_statistics_of_one_process_equal_brute_force(tmp_path: Path, many_planted: Path, model: str) -> None:
    options = ["--random-init"] if model == TINY_VIT else []
    overrides = TINY_OVERRIDES if model == TINY_VIT else None
    atlas = Atlas.open(
        build_atlas(tmp_path, model, many_planted, *options, "--top-k", "3", "--batch-size", "32", overrides=overrides)
    )
    assert atlas.statistics is not None and atlas.statistics.info.calibration_images == CALIBRATION_IMAGES
    _check_against_brute_force(atlas, *_labelled(many_planted))


def test_statistics_of_two_ranks_equal_brute_force_and_one_process(tmp_path: Path, planted_image_dir: Path) -> None:
    options = ["--random-init", "--top-k", "3", "--batch-size", "5"]
    single = build_atlas(tmp_path / "single", TINY_VIT, planted_image_dir, *options, overrides=TINY_OVERRIDES)
    run_two_ranks(planted_image_dir, tmp_path / "dist", "--model", TINY_VIT, *options)
    distributed = Atlas.open(tmp_path / "dist" / single.name)
    _check_against_brute_force(distributed, *_labelled(planted_image_dir))
    assert_same_atlas(distributed.path, single)  # counts and histograms exactly, float sums to rounding


def test_statistics_of_a_killed_and_resumed_run_equal_brute_force(tmp_path: Path, planted_image_dir: Path) -> None:
    source = open_image_source(planted_image_dir)
    listing = tmp_path / "images.txt"  # 64 labelled entries so that the run lasts long enough to be killed
    listing.write_text("".join(f"{item.path}\t{item.label}\n" for item in (source.items * 3)[:64]))
    resumed, reference = run_killed_then_resumed(tmp_path, listing)
    atlas = Atlas.open(resumed)
    _check_against_brute_force(atlas, *_labelled(listing))
    assert atlas_contents(resumed) == atlas_contents(reference)  # bit for bit, sums included


def test_no_statistics_then_resume_adds_them(tmp_path: Path, planted_image_dir: Path) -> None:
    without = Atlas.open(build_atlas(tmp_path, "planted", planted_image_dir, "--top-k", "2", "--no-statistics"))
    assert without.statistics is None and not (without.path / "stats").exists()
    # --resume keeps finished atlases, but not one that lacks the statistics now asked for.
    rebuilt = Atlas.open(build_atlas(tmp_path, "planted", planted_image_dir, "--top-k", "2", "--resume"))
    assert rebuilt.statistics is not None
    _check_against_brute_force(rebuilt, *_labelled(planted_image_dir))
