"""Singular modes of every attention head (docs/method.md#factored-svd, #signs, #inactive-modes,
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
#: A mode is inactive when ``σ_n ≤ INACTIVE_RTOL · (largest σ of the model)``: well above the float64
#: noise a rank-deficient head leaves in its core (~1e-13 relative at d ≈ 1000), far below any mode that
#: shapes attention. The same tolerance decides when ``W_q`` is rank-deficient (σ_min(R_a) relative to
#: σ_max(R_a)). docs/method.md#inactive-modes
INACTIVE_RTOL = 1e-10


@dataclass(frozen=True)
class Decomposition:
    """All modes of all heads. ``M = d_head`` modes per head, sorted by descending σ.

    Shapes: ``U, V: [L, H, M, d]`` (row ``n`` is ``u_n`` / ``v_n``), ``sigma, cos, query_offset:
    [L, H, M]``, ``degenerate: [L, H, M]`` bool. ``query_offset[n] = u_n · c`` with ``c = W_q⁺ b_q``:
    the constant the exact basis adds to every query projection. An inactive mode (``active``) has
    ``σ = 0``, zero ``u``, ``v``, ``cos = 0``, ``query_offset = 0`` and is never degenerate.
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

    @property
    def active(self) -> np.ndarray:
        """``[L, H, M]`` bool: the modes that contribute to attention (``active_modes``)."""
        return active_modes(self.sigma)


def active_modes(sigma: np.ndarray) -> np.ndarray:
    """``sigma [..., M]`` as ``decompose`` stores it → bool, True where the mode is active.

    ``decompose`` sets σ of every inactive mode to exactly 0, so ``σ > 0`` recovers the flag from a
    stored atlas without an array of its own."""
    active: np.ndarray = sigma > 0
    return active


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
    # c = W_q⁺ b_q is the minimum-norm point whose query is closest to the bias. W_q = R_aᵀ Q_aᵀ, and
    # Q_aᵀ has orthonormal rows, so c = Q_a (R_aᵀ)⁺ b_q and u_n · c = u'_n · ((R_aᵀ)⁺ b_q) without
    # forming c. With full row rank (trained heads) (R_aᵀ)⁺ = R_a⁻ᵀ: a triangular solve.
    y = torch.linalg.solve_triangular(r_a.transpose(-1, -2), b_q.unsqueeze(-1), upper=False)
    r_a_sigma = torch.linalg.svdvals(r_a)  # descending
    deficient = r_a_sigma[..., -1] <= INACTIVE_RTOL * r_a_sigma[..., 0]  # [L, H]; a zero W_q too
    if deficient.any():  # the solve divided by a (near-)zero pivot there: least squares instead
        pinv = torch.linalg.pinv(r_a[deficient].transpose(-1, -2), rtol=INACTIVE_RTOL)
        y[deficient] = pinv @ b_q[deficient].unsqueeze(-1)
    offset = (core_u.transpose(-1, -2) @ y).squeeze(-1) * flip  # [L, H, M]
    # Inactive modes: their singular vectors are an arbitrary basis of a null space, so store zeros.
    active = sigma > INACTIVE_RTOL * sigma.max()  # [L, H, M]; σ = 0 is never active
    keep = active.unsqueeze(-1)
    u, v = torch.where(keep, u, 0.0), torch.where(keep, v, 0.0)
    sigma_np = torch.where(active, sigma, 0.0).numpy()
    return Decomposition(
        U=u.numpy(),
        V=v.numpy(),
        sigma=sigma_np,
        cos=(u * v).sum(-1).numpy(),
        degenerate=degenerate_modes(sigma_np, degeneracy_rtol) & active.numpy(),
        query_offset=torch.where(active, offset, 0.0).numpy(),
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
    """Per-head singular-value weighted cosine ``Σ_n (σ_n / Σ_m σ_m) cos_n``: ``[L, H]``, NaN for a head
    without an active mode (``Σ σ = 0``: nothing to weight; docs/method.md#cosine-and-layer-summaries)."""
    total = dec.sigma.sum(axis=-1, keepdims=True)
    weights = np.divide(dec.sigma, total, out=np.zeros_like(dec.sigma), where=total > 0)
    weighted: np.ndarray = np.where(dec.active.any(axis=-1), (weights * dec.cos).sum(axis=-1), np.nan)
    return weighted
