"""A score's standing in a mode's stored distribution (docs/method.md#standing-in-the-distribution), checked
against a brute-force rank among the very scores the statistics were accumulated from."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qkatlas.atlas.standing import histogram_slot, standing
from qkatlas.atlas.statistics import ModeDistribution
from qkatlas.mode_statistics import CALIBRATION_IMAGES, N_BINS, HistogramBins, RunningStatistics

TOP_K = 16


def _dataset_scores(n: int, seed: int) -> np.ndarray:
    """Right-skewed float32 scores with many exact ties (a third rounded to a coarse grid) and a long tail
    beyond the calibration sample's range."""
    rng = np.random.default_rng(seed)
    scores = rng.gamma(2.0, 1.0, n).astype(np.float32)
    scores[: n // 3] = np.round(scores[: n // 3], 1)
    scores[rng.integers(CALIBRATION_IMAGES, n, 20)] *= 5  # overflow, after the calibration sample
    scores[rng.integers(CALIBRATION_IMAGES, n, 5)] = -3.0  # underflow
    return scores


def _stored(scores: np.ndarray) -> tuple[ModeDistribution, np.ndarray]:
    """What the job stores for a one-column atlas: the running statistics and the top-K scores."""
    column = torch.from_numpy(scores)[:, None]
    bins = HistogramBins.from_calibration(column[:CALIBRATION_IMAGES])
    running = RunningStatistics(bins, 0, "cpu")
    for start, batch in zip(range(0, len(scores), 100), torch.split(column, 100), strict=True):
        indices = torch.arange(start, start + len(batch))
        running.update(batch, batch > 0, torch.full((len(batch),), -1), indices)
    summary = running.summary()
    low, width = float(summary.low[0]), float(summary.width[0])
    distribution = ModeDistribution(
        count=int(summary.count[0]),
        firing=int(summary.firing[0]),
        mean=float(summary.mean[0]),
        std=float(summary.std[0]),
        minimum=float(summary.minimum[0]),
        maximum=float(summary.maximum[0]),
        low=low,
        width=width,
        edges=low + width * np.arange(N_BINS + 1),
        counts=summary.histogram[0],
    )
    return distribution, np.sort(scores)[::-1][:TOP_K]


def _queries(scores: np.ndarray, distribution: ModeDistribution) -> np.ndarray:
    """Every dataset score (ties), points between neighbouring distinct scores, the bin edges and their
    float32 neighbours, and values beyond both extremes."""
    distinct = np.unique(scores)
    edges = distribution.edges.astype(np.float32)
    return np.concatenate(
        [
            distinct,
            (distinct[:-1] + distinct[1:]) / 2,
            edges,
            np.nextafter(edges, np.float32(np.inf)),
            np.nextafter(edges, np.float32(-np.inf)),
            np.array([scores.min() - 1, scores.max() + 1], dtype=np.float32),
        ]
    ).astype(np.float32)


def _slot_by_hand(value: np.float32, distribution: ModeDistribution) -> int:
    """BINNING_RULE, written out in numpy float32."""
    inverse = np.float32(1.0 / distribution.width)
    low_in_widths = np.float32(distribution.low / distribution.width)
    return int(np.clip(np.floor(value * inverse - low_in_widths), -1, N_BINS)) + 1


def test_the_count_below_brackets_the_brute_force_rank_and_is_exact_where_the_stored_data_decide() -> None:
    scores = _dataset_scores(3000, seed=1)
    distribution, top = _stored(scores)
    counts = np.asarray(distribution.counts)
    assert counts[0] > 0 and counts[-1] > 0  # both open-ended slots are exercised
    exact_in_a_bin = ranges = 0
    for value in _queries(scores, distribution):
        found = standing(float(value), distribution, top, TOP_K)
        below = int((scores < value).sum())  # brute force
        slot = _slot_by_hand(value, distribution)
        assert histogram_slot(float(value), distribution) == slot
        assert found.count == len(scores)
        assert found.below_at_least <= below <= found.below_at_most, value
        # No wider than the images of its own slot that are not in the top-K.
        assert found.below_at_most - found.below_at_least <= counts[slot]
        decided = value <= scores.min() or value > top[-1] or counts[slot] == 0
        if decided:
            assert found.exact and found.below_at_least == below, value
            exact_in_a_bin += int(scores.min() < value <= top[-1])
        else:
            ranges += int(not found.exact)
        low, high = found.percentile_range
        assert (low, high) == (100 * found.below_at_least / len(scores), 100 * found.below_at_most / len(scores))
        entered = int((top >= value).sum())
        assert found.top_k_rank == (entered if entered < TOP_K else None)
    assert exact_in_a_bin > 0 and ranges > 0  # both cases occur among the queries


def test_a_score_above_the_last_top_score_has_its_exact_rank_in_the_top_k() -> None:
    scores = _dataset_scores(3000, seed=2)
    distribution, top = _stored(scores)
    value = float((top[2] + top[3]) / 2)  # between the 3rd and the 4th best
    found = standing(value, distribution, top, TOP_K)
    assert found.exact and found.below_at_least == len(scores) - 3
    assert found.top_k_rank == 3
    tie = standing(float(top[0]), distribution, top, TOP_K)
    assert tie.top_k_rank == 1 and tie.below_at_least == tie.below_at_most == int((scores < top[0]).sum())
    assert standing(float(top[0]) + 1, distribution, top, TOP_K).percentile_range == (100.0, 100.0)


def test_a_dataset_that_fits_in_the_top_k_always_gives_an_exact_count() -> None:
    scores = _dataset_scores(300, seed=3)[: TOP_K - 2]
    distribution, top = _stored(scores)
    for value in _queries(scores, distribution):
        found = standing(float(value), distribution, top, TOP_K)
        assert found.exact and found.below_at_least == int((scores < value).sum())
        assert found.top_k_rank is not None  # a K-slot top-K with free slots takes any score


def test_a_score_that_is_not_a_number_or_an_empty_distribution_is_refused() -> None:
    distribution, top = _stored(_dataset_scores(300, seed=4))
    with pytest.raises(ValueError, match="finite"):
        standing(float("nan"), distribution, top, TOP_K)
    empty = ModeDistribution(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, np.arange(N_BINS + 1.0), np.zeros(N_BINS + 2))
    with pytest.raises(ValueError, match="no scored image"):
        standing(1.0, empty, np.zeros(0, dtype=np.float32), TOP_K)
