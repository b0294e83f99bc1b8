"""The order in which an image's modes are listed (``qkatlas.analysis.rank_by_contribution``)."""

from __future__ import annotations

import itertools

import numpy as np

from qkatlas.analysis import rank_by_contribution


def test_active_modes_by_contribution_then_nan_then_inactive_ties_in_index_order() -> None:
    contribution = np.array([[0.5, 2.0, np.nan], [2.0, 9.0, -1.0]])
    active = np.array([[True, True, True], [True, False, True]])
    ranked = [tuple(int(i) for i in at) for at in rank_by_contribution(contribution, active)]
    # (1, 1) has the largest number but is inactive; (0, 1) and (1, 0) tie: index order.
    assert ranked == [(0, 1), (1, 0), (0, 0), (1, 2), (0, 2), (1, 1)]


def test_a_head_ranked_alone_keeps_its_order_within_the_whole_model() -> None:
    rng = np.random.default_rng(0)
    contribution = rng.integers(0, 4, (2, 3, 5)).astype(np.float32)  # many ties
    active = rng.random((2, 3, 5)) > 0.2
    whole = [tuple(int(i) for i in at) for at in rank_by_contribution(contribution, active)]
    assert sorted(whole) == list(itertools.product(range(2), range(3), range(5)))
    for layer, head in itertools.product(range(2), range(3)):
        alone = [int(mode) for (mode,) in rank_by_contribution(contribution[layer, head], active[layer, head])]
        assert alone == [m for (la, h, m) in whole if (la, h) == (layer, head)]
