"""Singular modes of every attention head (DESIGN §2 "SVD", "Sign", "Cosine and layer summary").

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


def _factored_svd(w_q: torch.Tensor, w_k: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """SVD of ``W_q^T W_k`` for a stack of heads. ``w_q, w_k: [..., d_h, d]``.

    Returns ``U [..., d, d_h]``, ``S [..., d_h]``, ``V [..., d, d_h]`` with ``W_q^T W_k = U diag(S) V^T``.
    """
    q_a, r_a = torch.linalg.qr(w_q.transpose(-1, -2))
    q_b, r_b = torch.linalg.qr(w_k.transpose(-1, -2))
    core_u, sigma, core_vh = torch.linalg.svd(r_a @ r_b.transpose(-1, -2))
    return q_a @ core_u, sigma, q_b @ core_vh.transpose(-1, -2)


def canonicalize_signs(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flip each mode's ``(u_n, v_n)`` jointly so that ``u_n``'s largest-magnitude entry is positive.

    ``u, v: [..., M, d]``. The pair ``(-u, -v)`` is the same term of ``M``, so this only picks a
    deterministic representative; the other one is the ``neg`` sign of the mode.
    """
    pivot = np.take_along_axis(u, np.abs(u).argmax(axis=-1)[..., None], axis=-1)
    flip = np.where(pivot < 0, -1.0, 1.0)
    return u * flip, v * flip


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
    u, sigma, v = _factored_svd(w_q, w_k)
    u_rows, v_rows = canonicalize_signs(u.transpose(-1, -2).numpy(), v.transpose(-1, -2).numpy())  # [L, H, M, d]
    # c = W_q⁺ b_q is the point whose query equals the bias: W_q c = b_q (W_q has full row rank).
    c = (torch.linalg.pinv(w_q) @ b_q.unsqueeze(-1)).squeeze(-1).numpy()  # [L, H, d]
    sigma_np = sigma.numpy()
    return Decomposition(
        U=u_rows,
        V=v_rows,
        sigma=sigma_np,
        cos=np.einsum("lhmd,lhmd->lhm", u_rows, v_rows),
        degenerate=degenerate_modes(sigma_np, degeneracy_rtol),
        query_offset=np.einsum("lhmd,lhd->lhm", u_rows, c),
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
    return (weights * dec.cos).sum(axis=-1)  # type: ignore[no-any-return]


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
