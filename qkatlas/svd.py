"""Singular modes of every attention head (docs/method.md#factored-svd, #signs,
#cosine-and-layer-summaries).

Head ``h`` of block ``ℓ`` scores a query token ``x`` against a key token ``y`` with the bilinear form
``x^T M y``, ``M = W_q^T W_k``. We never form the ``d × d`` matrix ``M``: with thin QRs
``W_q^T = Q_a R_a`` and ``W_k^T = Q_b R_b``, ``M = Q_a (R_a R_b^T) Q_b^T`` and only the small
``d_h × d_h`` core is decomposed. Everything runs in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from qkatlas.models.base import LayerWeights

DEGENERACY_RTOL = 1e-3
SIGN_RULE = "largest-magnitude entry of u positive"


@dataclass(frozen=True)
class Decomposition:
    """All modes of all heads. ``M = d_head`` modes per head, sorted by descending σ.

    Shapes: ``U, V: [L, H, M, d]`` (row ``n`` is ``u_n`` / ``v_n``), ``sigma, cos, query_offset:
    [L, H, M]``, ``degenerate: [L, H, M]`` bool. ``query_offset[n] = u_n · c`` with ``c = W_q⁺ b_q``:
    the constant the exact basis adds to every query projection.
    """

    U: np.ndarray
    V: np.ndarray
    sigma: np.ndarray
    cos: np.ndarray
    degenerate: np.ndarray
    query_offset: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int, int]:
        n_layers, n_heads, n_modes, d_model = self.U.shape
        return n_layers, n_heads, n_modes, d_model


def canonical_flips(u_columns: torch.Tensor) -> torch.Tensor:
    """``[..., d, M]`` (mode n in column n) → ``[..., M]`` of ±1 making each column's largest-magnitude
    entry positive. Flipping ``(u_n, v_n)`` jointly gives the same term of ``M``, so this only picks a
    deterministic representative; the other one is the ``neg`` sign of the mode."""
    pivot = u_columns.gather(-2, u_columns.abs().argmax(dim=-2, keepdim=True)).squeeze(-2)
    return torch.where(pivot < 0, -1.0, 1.0).to(u_columns.dtype)


def degenerate_modes(sigma: np.ndarray, rtol: float = DEGENERACY_RTOL) -> np.ndarray:
    """True where ``σ_n`` lies within ``rtol`` (relative) of a neighbouring σ. ``sigma: [..., M]``."""
    gaps = np.abs(np.diff(sigma, axis=-1))
    scale = np.maximum(np.maximum(sigma[..., 1:], sigma[..., :-1]), np.finfo(np.float64).tiny)
    close = gaps <= rtol * scale
    flagged = np.zeros(sigma.shape, dtype=bool)
    flagged[..., 1:] |= close
    flagged[..., :-1] |= close
    return flagged


def decompose(weights: list[LayerWeights], degeneracy_rtol: float = DEGENERACY_RTOL) -> Decomposition:
    """Decompose every head of every layer. ``weights``: one ``LayerWeights`` per layer."""
    w_q = torch.stack([w.w_q for w in weights]).to(torch.float64)  # [L, H, d_h, d]
    w_k = torch.stack([w.w_k for w in weights]).to(torch.float64)
    b_q = torch.stack([w.b_q for w in weights]).to(torch.float64)  # [L, H, d_h]
    q_a, r_a = torch.linalg.qr(w_q.transpose(-1, -2))  # W_q^T = Q_a R_a
    q_b, r_b = torch.linalg.qr(w_k.transpose(-1, -2))
    core_u, sigma, core_vh = torch.linalg.svd(r_a @ r_b.transpose(-1, -2))
    u = q_a @ core_u  # [L, H, d, M], column n = u_n
    flip = canonical_flips(u)  # [L, H, M]
    u = u.mul_(flip.unsqueeze(-2)).transpose(-1, -2)  # rows
    v = (q_b @ (core_vh.transpose(-1, -2) * flip.unsqueeze(-2))).transpose(-1, -2)
    # c = W_q⁺ b_q is the minimum-norm point whose query is the bias (W_q c = b_q; W_q = R_aᵀ Q_aᵀ has
    # full row rank): c = Q_a R_a⁻ᵀ b_q, so u_n · c = u'_n · (R_a⁻ᵀ b_q) without forming c.
    y = torch.linalg.solve_triangular(r_a.transpose(-1, -2), b_q.unsqueeze(-1), upper=False)
    offset = (core_u.transpose(-1, -2) @ y).squeeze(-1) * flip  # [L, H, M]
    sigma_np = sigma.numpy()
    return Decomposition(
        U=u.numpy(),
        V=v.numpy(),
        sigma=sigma_np,
        cos=(u * v).sum(-1).numpy(),
        degenerate=degenerate_modes(sigma_np, degeneracy_rtol),
        query_offset=offset.numpy(),
    )


def full_svd(w_q: torch.Tensor, w_k: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference: SVD of the explicit ``d × d`` product (slow; benchmarks and tests only).

    ``w_q, w_k: [..., d_h, d]`` → ``U [..., d, d_h]``, ``S [..., d_h]``, ``V [..., d, d_h]``.
    """
    m = w_q.transpose(-1, -2).to(torch.float64) @ w_k.to(torch.float64)
    u, s, vh = torch.linalg.svd(m)
    d_h = w_q.shape[-2]
    return u[..., :d_h].numpy(), s[..., :d_h].numpy(), vh[..., :d_h, :].transpose(-1, -2).numpy()


def weighted_cos(dec: Decomposition) -> np.ndarray:
    """Per-head singular-value weighted cosine ``Σ_n (σ_n / Σ_m σ_m) cos_n``: ``[L, H]``."""
    weights = dec.sigma / dec.sigma.sum(axis=-1, keepdims=True)
    weighted: np.ndarray = (weights * dec.cos).sum(axis=-1)
    return weighted


def summarize(dec: Decomposition) -> dict[str, object]:
    """The per-layer summaries stored as ``summary.json`` (see docs/atlas-format.md)."""
    n_layers, _, n_modes, d_model = dec.shape
    head_weighted = weighted_cos(dec)
    layer_weighted = head_weighted.mean(axis=1)
    return {
        "normalized_depth": [layer / max(n_layers - 1, 1) for layer in range(n_layers)],
        "layer_weighted_cos": layer_weighted.tolist(),
        "layer_unweighted_cos": dec.cos.mean(axis=(1, 2)).tolist(),
        # The paper's released code also divides by d_h; offered only as a labelled variant.
        "layer_weighted_cos_scaled": (layer_weighted / n_modes).tolist(),
        "head_weighted_cos": head_weighted.tolist(),
        "baseline_95": 1.96 / float(np.sqrt(d_model)),
    }
