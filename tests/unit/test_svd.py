"""The factored SVD against independent computations: the bilinear form itself and a full SVD."""

import numpy as np
import pytest
import torch

from qkatlas.atlas.contract import AtlasSummary
from qkatlas.models.base import LayerWeights
from qkatlas.svd import DEGENERACY_RTOL, decompose, degenerate_modes, full_svd, weighted_cos


def _random_weights(
    n_layers: int = 2, n_heads: int = 3, d_head: int = 8, d_model: int = 24, seed: int = 0
) -> list[LayerWeights]:
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    return [
        LayerWeights(
            w_q=rand(n_heads, d_head, d_model),
            w_k=rand(n_heads, d_head, d_model),
            b_q=rand(n_heads, d_head),
            b_k=rand(n_heads, d_head),
            ln_weight=rand(d_model),
            ln_bias=rand(d_model),
            ln_eps=1e-6,
        )
        for _ in range(n_layers)
    ]


def test_modes_reproduce_the_bilinear_form_query_side_first() -> None:
    weights = _random_weights()
    dec = decompose(weights)
    rng = np.random.default_rng(1)
    for layer, w in enumerate(weights):
        for head in range(w.w_q.shape[0]):
            x, y = rng.standard_normal((2, w.w_q.shape[2]))
            w_q, w_k = w.w_q[head].numpy(), w.w_k[head].numpy()
            expected = (w_q @ x) @ (w_k @ y)
            u, v, s = dec.U[layer, head], dec.V[layer, head], dec.sigma[layer, head]
            assert np.sum(s * (u @ x) * (v @ y)) == pytest.approx(expected, rel=1e-10)
            # Swapping query and key must give a different value: the test pins the orientation.
            assert np.sum(s * (u @ y) * (v @ x)) != pytest.approx(expected, rel=1e-3)


def test_factored_svd_matches_full_svd_values_and_subspaces() -> None:
    weights = _random_weights(seed=3)
    dec = decompose(weights)
    w_q = torch.stack([w.w_q for w in weights])
    w_k = torch.stack([w.w_k for w in weights])
    u_full, s_full, v_full = full_svd(w_q, w_k)
    np.testing.assert_allclose(dec.sigma, s_full, rtol=1e-10)
    # Each mode's rank-one term σ u vᵀ is sign-free, so compare those (σ here are non-degenerate).
    terms = np.einsum("lhm,lhmd,lhme->lhmde", dec.sigma, dec.U, dec.V)
    terms_full = np.einsum("lhm,lhdm,lhem->lhmde", s_full, u_full, v_full)
    np.testing.assert_allclose(terms, terms_full, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(dec.U, axis=-1), 1.0, atol=1e-12)


def test_signs_are_canonical_and_cosines_sign_invariant() -> None:
    dec = decompose(_random_weights(seed=5))
    pivot = np.take_along_axis(dec.U, np.abs(dec.U).argmax(-1)[..., None], -1)
    assert (pivot > 0).all()
    np.testing.assert_allclose(dec.cos, np.einsum("lhmd,lhmd->lhm", -dec.U, -dec.V))


def test_query_offset_is_u_dot_pinv_bias() -> None:
    weights = _random_weights(seed=7)
    dec = decompose(weights)
    w = weights[1]
    c = np.linalg.lstsq(w.w_q[2].numpy(), w.b_q[2].numpy(), rcond=None)[0]
    np.testing.assert_allclose(w.w_q[2].numpy() @ c, w.b_q[2].numpy(), atol=1e-10)
    np.testing.assert_allclose(dec.query_offset[1, 2], dec.U[1, 2] @ c, atol=1e-10)


def test_degenerate_flags_neighbours_within_tolerance() -> None:
    sigma = np.array([5.0, 3.0, 3.0 * (1 - DEGENERACY_RTOL / 2), 1.0, 0.5])
    assert degenerate_modes(sigma).tolist() == [False, True, True, False, False]


def test_planted_identity_head_is_degenerate_and_grouping() -> None:
    eye = torch.eye(4, 6, dtype=torch.float64).unsqueeze(0)
    zeros = torch.zeros(1, 4, dtype=torch.float64)
    w = LayerWeights(eye, eye, zeros, zeros, torch.ones(6), torch.zeros(6), 1e-6)
    dec = decompose([w])
    np.testing.assert_allclose(dec.sigma, 1.0)
    assert dec.degenerate.all()
    np.testing.assert_allclose(weighted_cos(dec), 1.0)


def test_summary_weighted_cosine_and_baseline() -> None:
    dec = decompose(_random_weights(n_layers=3, seed=11))
    summary = AtlasSummary.from_decomposition(dec)
    weights = dec.sigma / dec.sigma.sum(axis=-1, keepdims=True)
    expected = [np.mean([weights[layer, h] @ dec.cos[layer, h] for h in range(3)]) for layer in range(3)]
    np.testing.assert_allclose(summary.layer_weighted_cos, expected)
    np.testing.assert_allclose(summary.layer_weighted_cos_scaled, np.array(expected) / 8)
    assert summary.normalized_depth == [0.0, 0.5, 1.0]
    assert summary.baseline_95 == pytest.approx(1.96 / np.sqrt(24))
