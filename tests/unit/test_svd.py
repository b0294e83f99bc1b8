"""The factored SVD against independent computations: the bilinear form itself and a full SVD."""

import json

import numpy as np
import pytest
import torch

from qkatlas.atlas.contract import AtlasSummary
from qkatlas.models.base import LayerWeights
from qkatlas.summaries import summarize_decomposition
from qkatlas.svd import DEGENERACY_RTOL, INACTIVE_RTOL, decompose, degenerate_modes, full_svd, weighted_cos


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
    summary = summarize_decomposition(dec)
    weights = dec.sigma / dec.sigma.sum(axis=-1, keepdims=True)
    expected = [np.mean([weights[layer, h] @ dec.cos[layer, h] for h in range(3)]) for layer in range(3)]
    np.testing.assert_allclose(np.array(summary.layer_weighted_cos, dtype=float), expected)
    np.testing.assert_allclose(np.array(summary.layer_weighted_cos_scaled, dtype=float), np.array(expected) / 8)
    assert summary.normalized_depth == [0.0, 0.5, 1.0]
    assert summary.baseline_95 == pytest.approx(1.96 / np.sqrt(24))


# --- pruned and dead heads (docs/method.md#inactive-modes) ----------------------------------------


def _pruned_weights() -> list[LayerWeights]:
    """Layer 0: head 0 has W_q = 0, head 1 W_k = 0, head 2 a rank-3 W_q, head 3 a W_q with one zero
    row (a zero pivot inside R_a). Layer 1: all four heads zero. Layer 2: random. Biases are random,
    so b_q is generally outside the range of a rank-deficient W_q."""
    weights = _random_weights(n_layers=3, n_heads=4, seed=13)
    gen = torch.Generator().manual_seed(14)
    first, dead = weights[0], weights[1]
    first.w_q[0] = 0.0
    first.w_k[1] = 0.0
    first.w_q[2] = torch.randn(8, 3, generator=gen, dtype=torch.float64) @ torch.randn(
        3, 24, generator=gen, dtype=torch.float64
    )
    first.w_q[3, 5] = 0.0
    dead.w_q.zero_()
    dead.w_k.zero_()
    return weights


def _reference_spectrum(w: LayerWeights, head: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Rank, the non-zero σ and their cosines u·v, from numpy's SVD of the explicit d × d product."""
    product = w.w_q[head].numpy().T @ w.w_k[head].numpy()
    rank = int(np.linalg.matrix_rank(product))
    u, s, vh = np.linalg.svd(product)
    return rank, s[:rank], np.einsum("dm,md->m", u[:, :rank], vh[:rank])


def test_zero_and_rank_deficient_heads_give_finite_inactive_modes() -> None:
    weights = _pruned_weights()
    dec = decompose(weights)
    for name in ("U", "V", "sigma", "cos", "query_offset"):
        assert np.isfinite(getattr(dec, name)).all(), name
    ranks = [[_reference_spectrum(w, h)[0] for h in range(4)] for w in weights]
    assert ranks == [[0, 0, 3, 7], [0, 0, 0, 0], [8, 8, 8, 8]]
    assert dec.active.sum(axis=-1).tolist() == ranks
    # Active modes come first (σ descending); the inactive ones are zero and deterministic.
    for layer, head in np.ndindex(3, 4):
        assert dec.active[layer, head].tolist() == [n < ranks[layer][head] for n in range(8)]
    inactive = ~dec.active
    assert (dec.U[inactive] == 0).all() and (dec.V[inactive] == 0).all()
    assert (dec.sigma[inactive] == 0).all() and (dec.cos[inactive] == 0).all()
    assert (dec.query_offset[inactive] == 0).all() and not dec.degenerate[inactive].any()
    np.testing.assert_allclose(np.linalg.norm(dec.U[dec.active], axis=-1), 1.0, atol=1e-12)


def test_active_modes_of_pruned_heads_match_the_full_svd_and_the_bilinear_form() -> None:
    weights = _pruned_weights()
    dec = decompose(weights)
    rng = np.random.default_rng(2)
    for layer, w in enumerate(weights):
        for head in range(4):
            rank, sigma, cos = _reference_spectrum(w, head)
            np.testing.assert_allclose(dec.sigma[layer, head, :rank], sigma, rtol=1e-10)
            np.testing.assert_allclose(dec.cos[layer, head, :rank], cos, atol=1e-9)
            x, y = rng.standard_normal((2, 24))
            expected = (w.w_q[head].numpy() @ x) @ (w.w_k[head].numpy() @ y)
            u, v, s = dec.U[layer, head], dec.V[layer, head], dec.sigma[layer, head]
            assert np.sum(s * (u @ x) * (v @ y)) == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_query_offset_of_rank_deficient_heads_is_u_dot_pinv_bias() -> None:
    weights = _pruned_weights()
    dec = decompose(weights)
    w = weights[0]
    for head in (2, 3):
        c = np.linalg.pinv(w.w_q[head].numpy()) @ w.b_q[head].numpy()
        active = dec.active[0, head]
        np.testing.assert_allclose(dec.query_offset[0, head, active], dec.U[0, head, active] @ c, atol=1e-10)


def _diagonal_head(sigmas: list[float], d_model: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """W_q, W_k whose product has exactly the singular values ``sigmas`` (u_n = v_n = e_n)."""
    amplitudes = torch.tensor(sigmas, dtype=torch.float64).sqrt()
    w = torch.zeros(len(sigmas), d_model, dtype=torch.float64)
    w[range(len(sigmas)), range(len(sigmas))] = amplitudes
    return w, w.clone()


def test_inactive_tolerance_is_relative_to_the_largest_sigma_of_the_model() -> None:
    strong_q, strong_k = _diagonal_head([4.0, 4e-6, 4e-12, 0.0])
    weak_q, weak_k = _diagonal_head([4e-8, 4e-9, 3e-10, 4e-11])
    biases = torch.zeros(2, 4, dtype=torch.float64)
    w_q, w_k = torch.stack([strong_q, weak_q]), torch.stack([strong_k, weak_k])
    dec = decompose([LayerWeights(w_q, w_k, biases, biases, torch.ones(6), torch.zeros(6), 1e-6)])
    # Threshold: INACTIVE_RTOL · 4 = 4e-10, whatever the head's own scale.
    assert INACTIVE_RTOL == 1e-10
    assert dec.active[0].tolist() == [[True, True, False, False], [True, True, False, False]]
    np.testing.assert_allclose(dec.sigma[0, 1, :2], [4e-8, 4e-9], rtol=1e-12)


def test_summaries_average_over_active_heads_and_modes_only() -> None:
    weights = _pruned_weights()
    summary = summarize_decomposition(decompose(weights))
    heads = [[_reference_spectrum(w, h) for h in range(4)] for w in weights]
    head_weighted = [[float(s @ c / s.sum()) if rank else None for rank, s, c in layer] for layer in heads]
    for got, want in zip(summary.head_weighted_cos, head_weighted, strict=True):
        assert [g is None for g in got] == [w is None for w in want]
        np.testing.assert_allclose([g for g in got if g is not None], [w for w in want if w is not None])
    assert summary.head_weighted_cos[1] == [None, None, None, None]
    # Layer 0 averages its two active heads; layer 1 has none.
    active_heads = [value for value in head_weighted[0] if value is not None]
    assert len(active_heads) == 2
    assert summary.layer_weighted_cos[0] == pytest.approx(np.mean(active_heads))
    assert summary.layer_weighted_cos_scaled[0] == pytest.approx(np.mean(active_heads) / 8)
    assert summary.layer_weighted_cos[1] is None and summary.layer_weighted_cos_scaled[1] is None
    assert summary.layer_unweighted_cos[0] == pytest.approx(np.concatenate([c for _, _, c in heads[0]]).mean())
    assert summary.layer_unweighted_cos[1] is None
    assert summary.layer_unweighted_cos[2] == pytest.approx(np.concatenate([c for _, _, c in heads[2]]).mean())
    text = json.dumps(summary.to_json_dict(), allow_nan=False)
    assert AtlasSummary.model_validate_json(text) == summary


def test_a_model_of_zero_heads_has_no_active_mode_and_no_summary_value() -> None:
    zeros = torch.zeros(2, 4, 6, dtype=torch.float64)
    weights = [LayerWeights(zeros, zeros, zeros[:, :, 0], zeros[:, :, 0], torch.ones(6), torch.zeros(6), 1e-6)] * 2
    dec = decompose(weights)
    assert not dec.active.any()
    assert np.isnan(weighted_cos(dec)).all()
    for name in ("U", "V", "sigma", "cos", "query_offset"):
        assert not getattr(dec, name).any(), name
    summary = summarize_decomposition(dec)
    assert summary.layer_weighted_cos == [None, None] and summary.layer_unweighted_cos == [None, None]
    assert summary.head_weighted_cos == [[None, None], [None, None]]
    json.dumps(summary.to_json_dict(), allow_nan=False)
