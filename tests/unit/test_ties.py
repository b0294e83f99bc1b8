"""The tie check at the top-K cut-off against brute-force rankings and independent computations."""

import numpy as np
import pytest
import torch

from qkatlas.ties import ROUNDING_QUANTILE, analytic_rounding, first_tied_place, measured_rounding
from qkatlas.topk import RunningTopK

EPSILON = 1e-3


def _brute_force_first_tie(column: np.ndarray, k: int, epsilon: float) -> int | None:
    """Rank every score of one column in float64; the first of the top-K places whose score lies within
    ε·(|a| + |b|) of the (K+1)-th, counting only a tail of consecutive tied places."""
    ranked = sorted(column.astype(np.float64), reverse=True)
    if len(ranked) <= k:
        return None
    next_best = ranked[k]
    first = None
    for place in range(k - 1, -1, -1):
        if ranked[place] - next_best <= epsilon * (abs(ranked[place]) + abs(next_best)):
            first = place
        else:
            break
    return first


def test_planted_near_ties_at_the_cut_off_are_flagged_and_clear_gaps_are_not() -> None:
    rng = np.random.default_rng(0)
    k, n_images = 4, 40
    scores = rng.uniform(1.0, 5.0, size=(n_images, 6)).astype(np.float32)
    cut = 10.0
    tail = np.zeros_like(scores)  # per column: K images well above the rest, then the planted gap
    for column, gap in enumerate([0.0, 0.5 * EPSILON, 1.5 * EPSILON, 0.1, 3 * EPSILON, 1.9 * EPSILON]):
        winners = rng.choice(n_images, k + 1, replace=False)
        tail[winners[:k], column] = cut * (1 + np.arange(k, 0, -1) * 0.05)  # places 1..K-1, 5 % apart
        tail[winners[k - 1], column] = cut  # the K-th place
        tail[winners[k], column] = cut * (1 - gap)  # the best left out: a relative gap of ``gap``
    scores = np.where(tail > 0, tail, scores).astype(np.float32)
    topk = RunningTopK(6, k, "cpu")
    for start in range(0, n_images, 7):
        topk.update(torch.from_numpy(scores[start : start + 7]), torch.arange(start, min(start + 7, n_images)))
    ranked, _, _ = topk.ranked()
    found = [first_tied_place(ranked[c].numpy(), float(topk.runner_up[c]), EPSILON) for c in range(scores.shape[1])]
    expected = [_brute_force_first_tie(scores[:, c], k, EPSILON) for c in range(scores.shape[1])]
    assert found == expected
    # Gaps of 0, ε/2, 3ε/2 and 1.9ε lie within ε·(|a| + |b|) ≈ 2ε relative; 3ε and 0.1 do not.
    assert [place is not None for place in found] == [True, True, True, False, False, True]
    assert found[0] == k - 1  # only the K-th place ties: the places above it are 5 % apart


def test_several_tied_last_places_are_all_named() -> None:
    k = 5
    column = np.array([9.0, 8.0, 7.0, 7.0005, 7.0002, 7.0001, 1.0, 0.5], dtype=np.float32)
    topk = RunningTopK(1, k, "cpu")
    topk.update(torch.from_numpy(column).unsqueeze(1), torch.arange(len(column)))
    ranked, _, _ = topk.ranked()
    place = first_tied_place(ranked[0].numpy(), float(topk.runner_up[0]), EPSILON)
    assert place == _brute_force_first_tie(column, k, EPSILON) == 2  # places 3–5 and the next image


def test_no_runner_up_means_no_tie() -> None:
    assert first_tied_place(np.array([3.0, 3.0]), float("-inf"), EPSILON) is None


def test_measured_rounding_is_the_quantile_of_relative_errors_of_each_columns_best_scores() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(250, 30)) * rng.uniform(0.1, 10.0, size=30)
    reference[:, 7] = 0.0  # a column that never scores: left out
    scores = reference * (1 + rng.normal(size=reference.shape) * 1e-3)
    scores[reference < 0] *= 5  # errors among the low scores, never near a cut-off, do not count
    rounding = measured_rounding("bf16", torch.from_numpy(scores), torch.from_numpy(reference))
    errors = []
    for column in range(reference.shape[1]):
        best = np.argsort(-reference[:, column], kind="stable")[:25]  # the top tenth of 250 images
        for image in best:
            if reference[image, column] != 0:
                exact = reference[image, column]
                errors.append(abs(scores[image, column] - exact) / abs(exact))
    assert rounding.how == "measured" and rounding.sample_images == 250
    assert rounding.epsilon == pytest.approx(np.quantile(errors, ROUNDING_QUANTILE, method="inverted_cdf"), rel=1e-12)
    assert 1e-3 < rounding.epsilon < 5e-3  # about 2.6 standard deviations of the planted 1e-3


def test_fp32s_analytic_bound_is_twice_the_width_times_its_unit_roundoff() -> None:
    rounding = analytic_rounding(768)
    assert rounding.how == "analytic" and rounding.epsilon == 2 * 768 * 2.0**-24
