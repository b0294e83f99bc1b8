"""Distribution samples against brute force: the documented key, the right band, and the same samples
whatever the batches, their order, the shards or a checkpoint in between."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from qkatlas.distribution_samples import N_BANDS, PER_BAND, RunningSamples, sample_keys
from qkatlas.mode_statistics import N_BINS, HistogramBins, RunningStatistics

N_COLUMNS = 6


def _documented_key(index: int) -> int:
    """docs/method.md#samples-across-the-distribution, in plain integers."""
    x = index
    for _ in range(2):
        x = ((x ^ (x >> 16)) * 0x45D9F3B) % 2**32
    return ((x ^ (x >> 16)) >> 1) * 2**32 + index


def _bins() -> HistogramBins:
    return HistogramBins.from_calibration(torch.randn(30, N_COLUMNS, generator=torch.Generator().manual_seed(3)))


def _dataset(n_images: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores ``[N, C]`` spread past the calibrated range on both sides (under- and overflow), with a few
    non-finite ones, and whether each fires."""
    generator = torch.Generator().manual_seed(4)
    scores = torch.randn(n_images, N_COLUMNS, generator=generator) * 2.5
    scores[5, 1], scores[17, 2] = float("nan"), float("inf")
    return scores, torch.rand(n_images, N_COLUMNS, generator=generator) > 0.3


@pytest.fixture(params=[True, False], ids=["compact", "fixed-shape"])
def compact(request: pytest.FixtureRequest) -> bool:
    """Both updates: listing the candidates that can enter first (the CPU's) and fixed shapes (a GPU's)."""
    flag: bool = request.param
    return flag


def _stream(batches: list[list[int]], scores: torch.Tensor, fires: torch.Tensor, compact: bool) -> RunningStatistics:
    statistics = RunningStatistics(_bins(), 0, "cpu")
    statistics.samples.compact = compact
    for rows in batches:
        at = torch.tensor(rows)
        statistics.update(scores[at], fires[at], torch.full((len(rows),), -1), at)
    return statistics


def _brute_force(scores: torch.Tensor, bins: HistogramBins) -> list[list[list[int]]]:
    """Per column and band, the dataset indices of the band's ``PER_BAND`` smallest documented keys; each
    score binned by the documented float32 rule, under- and overflow joining the end bands."""
    inverse = (1.0 / bins.width).float()
    offset = (bins.low / bins.width).float()
    expected: list[list[list[int]]] = [[[] for _ in range(N_BANDS)] for _ in range(N_COLUMNS)]
    for column in range(N_COLUMNS):
        for index in sorted(range(len(scores)), key=_documented_key):
            value = scores[index, column]
            if not torch.isfinite(value):
                continue
            position = int(torch.floor(value * inverse[column] - offset[column]))
            band = min(max(position, 0), N_BINS - 1) // (N_BINS // N_BANDS)
            if len(expected[column][band]) < PER_BAND:
                expected[column][band].append(index)
    return expected


def test_the_key_is_the_documented_hash_and_distinct() -> None:
    indices = torch.tensor([0, 1, 2, 3, 1000, 65535, 65536, 2**31 - 1, 2**32 - 1])
    assert sample_keys(indices).tolist() == [_documented_key(i) for i in indices.tolist()]
    many = sample_keys(torch.arange(100_000))
    assert len(set(many.tolist())) == 100_000 and (many >= 0).all()


def test_every_band_keeps_its_smallest_keys_like_brute_force(compact: bool) -> None:
    scores, fires = _dataset()
    batches = [list(range(start, min(start + 16, 300))) for start in range(0, 300, 16)]
    statistics = _stream(batches, scores, fires, compact)
    summary = statistics.samples.summary()
    expected = _brute_force(scores, statistics.bins)
    assert sum(len(band) for column in expected for band in column) > N_COLUMNS * 4 * PER_BAND  # several bands used
    for column in range(N_COLUMNS):
        for band in range(N_BANDS):
            got = summary.indices[column, band]
            assert [int(i) for i in got if i >= 0] == expected[column][band], (column, band)
            for slot, index in enumerate(got):
                if index >= 0:
                    assert summary.scores[column, band, slot] == scores[index, column].item()
                    assert summary.fires[column, band, slot] == fires[index, column].item()
                else:
                    assert np.isnan(summary.scores[column, band, slot]) and not summary.fires[column, band, slot]


def test_batches_order_shards_and_a_checkpoint_give_the_same_samples(compact: bool) -> None:
    scores, fires = _dataset()
    reference = _stream([list(range(300))], scores, fires, compact).samples
    shuffled = list(range(300))
    random.Random(1).shuffle(shuffled)
    uneven = [shuffled[start : start + size] for start, size in ((0, 1), (1, 50), (51, 7), (58, 242))]
    assert torch.equal(_stream(uneven, scores, fires, compact).samples.keys, reference.keys)
    # two shards merged, and a stream interrupted by a checkpoint
    even = _stream([shuffled[i : i + 10] for i in range(0, 300, 20)], scores, fires, compact)
    odd = _stream([shuffled[i : i + 10] for i in range(10, 300, 20)], scores, fires, compact)
    even.merge(odd)
    first = _stream([list(range(120))], scores, fires, compact)
    resumed = RunningStatistics.from_state_dict(first.state_dict(), "cpu")
    resumed.samples.compact = compact
    at = torch.arange(120, 300)
    resumed.update(scores[at], fires[at], torch.full((180,), -1), at)
    for other in (even.samples, resumed.samples):
        for name in RunningSamples.STATE:  # empty slots' scores are NaN: equal as NaN
            torch.testing.assert_close(getattr(other, name), getattr(reference, name), rtol=0, atol=0, equal_nan=True)


def test_the_rows_that_entered_are_reported(compact: bool) -> None:
    scores, fires = _dataset()
    statistics = _stream([list(range(100))], scores, fires, compact)
    at = torch.arange(100, 164)
    before = set(statistics.samples.summary().indices.flatten().tolist())
    entered = statistics.update(scores[at], fires[at], torch.full((64,), -1), at)
    after = set(statistics.samples.summary().indices.flatten().tolist())
    assert {int(i) for i in at[entered]} == (after - before) - {-1}
    assert entered.any() and not entered.all()
