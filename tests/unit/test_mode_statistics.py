"""Running per-mode statistics: sums against numpy, exact merges, chunking, checkpoints, rankings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qkatlas import mode_statistics
from qkatlas.columns import ColumnLayout
from qkatlas.distribution_samples import RunningSamples
from qkatlas.mode_statistics import (
    HIGH_MARGIN,
    LOW_MARGIN,
    N_BINS,
    HistogramBins,
    RunningDistribution,
    RunningStatistics,
    rank_classes,
)


def _batches(seed: int = 0, n_batches: int = 5, size: int = 7, columns: int = 11) -> list[tuple[torch.Tensor, ...]]:
    generator = torch.Generator().manual_seed(seed)
    batches: list[tuple[torch.Tensor, ...]] = []
    for number in range(n_batches):
        scores = torch.randn(size, columns, generator=generator) * 3 + 1
        firing = torch.rand(size, columns, generator=generator) > 0.5
        classes = torch.randint(-1, 4, (size,), generator=generator)
        batches.append((scores, firing, classes, torch.arange(number * size, (number + 1) * size)))
    return batches


def _bins(columns: int = 11) -> HistogramBins:
    return HistogramBins.from_calibration(torch.randn(20, columns, generator=torch.Generator().manual_seed(9)))


def test_the_sums_equal_numpy_and_non_finite_scores_are_not_counted() -> None:
    batches = _batches()
    batches[1][0][2, 3] = float("nan")
    batches[2][0][0, 5] = float("inf")
    running = RunningStatistics(_bins(), 4, "cpu")
    for batch in batches:
        running.update(*batch)
    summary = running.summary()
    scores = torch.cat([b[0] for b in batches]).double().numpy()
    firing = torch.cat([b[1] for b in batches]).numpy()
    classes = torch.cat([b[2] for b in batches]).numpy()
    finite = np.isfinite(scores)
    assert (summary.count == finite.sum(0)).all()
    assert (summary.firing == (firing & finite).sum(0)).all()
    masked = np.ma.masked_invalid(scores)
    np.testing.assert_allclose(summary.mean, masked.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(summary.std, masked.std(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(summary.maximum, masked.max(0), rtol=1e-7)
    for c in range(4):
        rows = classes == c
        assert summary.class_count[c] == rows.sum()
        total = np.where(finite[rows], scores[rows] - running.bins.centre.numpy(), 0).sum(0)
        expected = running.bins.centre.numpy() + total / rows.sum()
        np.testing.assert_allclose(summary.class_mean[c], expected, rtol=1e-6, atol=1e-6)
    edges = summary.low[:, None] + summary.width[:, None] * np.arange(N_BINS + 1)
    for column in range(11):
        values = scores[finite[:, column], column]
        inside = np.histogram(values, bins=edges[column])[0]
        inside[-1] -= int((values == edges[column, -1]).sum())  # numpy closes its last bin; ours is [a, b)
        expected = [int((values < edges[column, 0]).sum()), *inside, int((values >= edges[column, -1]).sum())]
        assert summary.histogram[column].tolist() == expected


def test_bins_follow_the_documented_rule() -> None:
    sample = torch.tensor([[0.0, 5.0], [2.0, 5.0], [1.0, 5.0]])
    bins = HistogramBins.from_calibration(sample)
    width = 2.0 * (1 + LOW_MARGIN + HIGH_MARGIN) / N_BINS
    assert bins.width[0].item() == pytest.approx(width)
    assert bins.low[0].item() == pytest.approx(0.0 - LOW_MARGIN * 2.0 - width / 2)
    assert bins.width[1].item() == pytest.approx(5.0 * 1e-6 * (1 + LOW_MARGIN + HIGH_MARGIN) / N_BINS)
    assert bins.calibration_images == 3
    assert HistogramBins.from_calibration(torch.empty(0, 2)).calibration_images == 0


def test_merging_shards_gives_the_counts_of_one_stream_exactly() -> None:
    batches = _batches(n_batches=6)
    whole = RunningStatistics(_bins(), 4, "cpu")
    for batch in batches:
        whole.update(*batch)
    even, odd = RunningStatistics(_bins(), 4, "cpu"), RunningStatistics(_bins(), 4, "cpu")
    for number, batch in enumerate(batches):
        (even if number % 2 == 0 else odd).update(*batch)
    even.merge(odd)
    merged, expected = even.state_dict(), whole.state_dict()
    for name in ("count", "firing", "histogram", "class_count", "minimum", "maximum"):
        assert torch.equal(merged[name], expected[name]), name
    for name in RunningSamples.STATE:  # empty slots' scores are NaN: equal as NaN
        torch.testing.assert_close(
            getattr(even.samples, name), getattr(whole.samples, name), rtol=0, atol=0, equal_nan=True
        )
    for name in ("total", "total_sq", "class_total"):
        torch.testing.assert_close(merged[name], expected[name], rtol=1e-12, atol=1e-12)


def test_a_checkpoint_round_trip_continues_bit_for_bit() -> None:
    batches = _batches()
    whole = RunningStatistics(_bins(), 4, "cpu")
    first = RunningStatistics(_bins(), 4, "cpu")
    for batch in batches[:2]:
        whole.update(*batch)
        first.update(*batch)
    resumed = RunningStatistics.from_state_dict(first.state_dict(), "cpu")
    for batch in batches[2:]:
        whole.update(*batch)
        resumed.update(*batch)
    continued, expected = resumed.state_dict(), whole.state_dict()
    for name in (*RunningDistribution.SUMS, *RunningDistribution.EXTREMES, *RunningStatistics.SUMS):
        assert torch.equal(continued[name], expected[name]), name
    for name in RunningSamples.STATE:
        torch.testing.assert_close(
            getattr(resumed.samples, name), getattr(whole.samples, name), rtol=0, atol=0, equal_nan=True
        )


def test_chunks_of_columns_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    batches = _batches()
    whole = RunningStatistics(_bins(), 4, "cpu")
    for batch in batches:
        whole.update(*batch)
    monkeypatch.setattr(mode_statistics, "STATISTICS_CHUNK", 4)
    chunked = RunningStatistics(_bins(), 4, "cpu")
    for batch in batches:
        chunked.update(*batch)
    by_chunks, expected = chunked.state_dict(), whole.state_dict()
    for name in ("count", "firing", "histogram", "class_count", "minimum", "maximum"):
        assert torch.equal(by_chunks[name], expected[name]), name
    for name in ("total", "total_sq", "class_total"):  # float32 batch sums may vectorize differently
        torch.testing.assert_close(by_chunks[name], expected[name], rtol=1e-6, atol=1e-5)


def test_rankings_leave_out_inactive_and_constant_modes_and_break_ties_by_position() -> None:
    running = RunningStatistics(_bins(4), 2, "cpu")
    # column 0 prefers class 1, column 1 prefers class 0, column 2 is constant, column 3 is inactive
    scores = torch.tensor([[0.0, 4.0, 1.0, 0.0], [2.0, 0.0, 1.0, 0.0], [0.0, 4.0, 1.0, 0.0], [2.0, 0.0, 1.0, 0.0]])
    running.update(scores, scores > 0, torch.tensor([0, 1, 0, 1]), torch.arange(4))
    active = np.array([True, True, True, False])
    rankings = rank_classes(running.summary(), active, ColumnLayout(n_bases=1, n_layers=1, n_heads=1, n_modes=2))
    assert rankings.top[:, 0].tolist() == [1, 0, -1, -1]
    assert rankings.top_selectivity[0, 0] == pytest.approx(1.0) and rankings.top_selectivity[2, 0] == 0.0
    # only positive selectivities rank (column 0 scores class 0 below its mean); constant and inactive: none
    assert rankings.modes[0, 0, :2].tolist() == [1, -1] and rankings.modes[1, 0, :2].tolist() == [0, -1]
    assert rankings.top[0, :2].tolist() == [1, -1]
