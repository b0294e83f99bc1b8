"""Analysing one image with a model: every map of every mode, per-image mode ranking, edge splits.

Used by the service for uploaded images (docs/method.md#per-image-mode-ranking), and by tests. The
maps and scores come from the scoring kernel (``qkatlas.scoring``), the same code as the atlas's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from qkatlas.conventions import BASES, Basis
from qkatlas.models.base import ViTAdapter
from qkatlas.scoring import ModeKernel, ProjectedLayer
from qkatlas.svd import Decomposition


@dataclass(frozen=True)
class ImageAnalysis:
    """Maps and scores of one image. ``query[basis], key[basis]: [L, H, M, T, T]`` are the maps of
    the ``pos`` mode (the ``neg`` mode's maps are their negatives); ``scores[basis]: [L, H, M, 2]``
    (pos, neg) by the paper's rule; ``contribution[basis]: [L, H, M]`` is our reconstruction of the
    paper's per-image ranking, ``C_n = σ_n · max(pos, neg)``; ``key_salience: [L, H, T, T]`` is the
    exact basis's key-only logit term ``(W_q β + b_q)ᵀ W_k (x_j − β)`` (survives the softmax)."""

    query: dict[Basis, np.ndarray]
    key: dict[Basis, np.ndarray]
    scores: dict[Basis, np.ndarray]
    contribution: dict[Basis, np.ndarray]
    key_salience: np.ndarray


@dataclass(frozen=True)
class EdgeSplit:
    """One query patch's attention row in the exact basis and its per-mode decomposition.

    Keys are all tokens (prefix tokens first, then patches row-major): ``attention [N]`` is the
    model's own softmax row; ``mode_logits [M, N]`` is ``σ_n P_U[i,n] P_V[j,n] / √d_h``;
    ``reconstructed [N] = softmax(Σ_n mode_logits)`` equals ``attention`` up to float error (the
    logit terms constant in j cancel in the softmax); ``key_term [N]`` is the part of
    ``Σ_n mode_logits`` that every query shares, ``(W_q β + b_q)ᵀ W_k (x_j − β) / √d_h``.
    """

    attention: np.ndarray
    mode_logits: np.ndarray
    key_term: np.ndarray
    reconstructed: np.ndarray
    n_prefix: int


def _normed_tokens(adapter: ViTAdapter, image: torch.Tensor, layer: int) -> torch.Tensor:
    """The LayerNorm output feeding block ``layer``'s projections, all tokens: ``[N, d]`` float32."""
    captured: dict[int, torch.Tensor] = {}

    def keep(at: int, _residual: torch.Tensor, normed: torch.Tensor) -> None:
        if at == layer:
            captured[at] = normed[0].float()

    adapter.run_with_capture(adapter.normalize(image.unsqueeze(0).to(adapter.device)), keep)
    return captured[layer]


def _key_only_direction(adapter: ViTAdapter, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per head, the vector ``w`` with key-only term ``w · (x_j − β)``: ``[H, d]``, and ``β [d]``."""
    weights = adapter.layer_weights(layer)
    query_of_beta = torch.einsum("hed,d->he", weights.w_q, weights.ln_bias) + weights.b_q  # [H, d_h]
    return torch.einsum("he,hed->hd", query_of_beta, weights.w_k), weights.ln_bias


class ImageAnalyzer:
    """Analyses single images with one model: what does not depend on the image (the float32 mode
    kernel, every layer's key-only direction) is built once, on the adapter's device.

    ``analyze`` keeps every layer's maps on the device and copies them to the host once at the end, so
    an analysis waits for the device once (the copies), not once per layer.
    """

    def __init__(self, adapter: ViTAdapter, dec: Decomposition) -> None:
        self.adapter, self.dec = adapter, dec
        self.kernel = ModeKernel(adapter, dec, BASES, dtype=torch.float32)
        per_layer = [_key_only_direction(adapter, layer) for layer in range(adapter.spec.n_layers)]
        self._direction = torch.stack([direction for direction, _ in per_layer]).to(adapter.device)  # [L, H, d] f64
        self._beta = torch.stack([beta for _, beta in per_layer]).to(adapter.device)  # [L, d] float64

    @torch.inference_mode()
    def analyze(self, image: torch.Tensor) -> ImageAnalysis:
        """All maps, scores and contributions of one uint8 image ``[3, S, S]`` (as the model sees it)."""
        spec, device = self.adapter.spec, self.kernel.device
        shape = (spec.n_layers, spec.n_heads, spec.d_head, spec.grid, spec.grid)
        query = {basis: torch.empty(shape, device=device) for basis in BASES}
        key = {basis: torch.empty(shape, device=device) for basis in BASES}
        scores = {basis: torch.empty((*shape[:3], 2), device=device) for basis in BASES}
        salience = torch.empty((spec.n_layers, spec.n_heads, spec.grid, spec.grid), dtype=torch.float64, device=device)

        def keep(projected: ProjectedLayer) -> None:
            layer, basis = projected.layer, projected.basis
            query[basis][layer] = projected.query_maps()[0].permute(1, 2, 0).reshape(shape[1:])
            key[basis][layer] = projected.key_maps()[0].permute(1, 2, 0).reshape(shape[1:])
            scores[basis][layer] = projected.scores[0]
            if basis == Basis.exact:  # the key-only logit term lives on the LayerNorm output
                patches = projected.normed[0].double() - self._beta[layer]
                salience[layer] = (self._direction[layer] @ patches.T).reshape(spec.n_heads, spec.grid, spec.grid)

        self.kernel.run(image.unsqueeze(0), keep)
        host_scores = {basis: s.cpu().numpy() for basis, s in scores.items()}
        return ImageAnalysis(
            query={basis: m.cpu().numpy() for basis, m in query.items()},
            key={basis: m.cpu().numpy() for basis, m in key.items()},
            scores=host_scores,
            contribution={basis: self.dec.sigma * s.max(axis=-1) for basis, s in host_scores.items()},
            key_salience=salience.float().cpu().numpy(),
        )


def rank_by_contribution(contribution: np.ndarray, active: np.ndarray) -> np.ndarray:
    """The order in which modes are listed for an image: ``[n, contribution.ndim]`` index rows into
    ``contribution`` (one head's ``[M]``, or a whole model's ``[L, H, M]``; ``active`` the same shape).

    Active modes come first, largest contribution first (NaN after every number); then the inactive
    ones (σ = 0), whose ``C_n = 0`` says nothing about the image. Ties keep index order, so a head's
    modes come in the same order whether that head or the whole model is ranked.
    """
    flat = contribution.reshape(-1)
    order = np.lexsort((-np.nan_to_num(flat, nan=-np.inf), ~active.reshape(-1)))
    return np.stack(np.unravel_index(order, contribution.shape), axis=-1)


@torch.inference_mode()
def attention_edge_split(
    adapter: ViTAdapter, dec: Decomposition, image: torch.Tensor, layer: int, head: int, query_patch: int
) -> EdgeSplit:
    """Split the real attention row of patch ``query_patch`` (row-major) into per-mode logits."""
    spec = adapter.spec
    if not 0 <= query_patch < spec.n_patches:
        raise IndexError(f"query patch {query_patch} outside the {spec.grid}×{spec.grid} grid")
    normed = _normed_tokens(adapter, image, layer).double().cpu()  # [N, d]
    u = torch.from_numpy(dec.U[layer, head])  # [M, d]
    v = torch.from_numpy(dec.V[layer, head])
    sigma = torch.from_numpy(dec.sigma[layer, head])
    query_token = spec.n_prefix + query_patch
    query_side = u @ normed[query_token] + torch.from_numpy(dec.query_offset[layer, head])  # [M]
    key_side = normed @ v.T  # [N, M]
    scale = spec.d_head**-0.5
    mode_logits = (sigma * query_side).unsqueeze(1) * key_side.T * scale  # [M, N]
    direction, beta = _key_only_direction(adapter, layer)
    key_term = (normed - beta) @ direction[head] * scale
    reconstructed = torch.softmax(mode_logits.sum(0), dim=0)
    pixels = adapter.normalize(image.unsqueeze(0).to(adapter.device))
    attention = adapter.attention_probs(pixels)[layer][0, head, query_token]
    return EdgeSplit(
        attention=attention.double().cpu().numpy(),
        mode_logits=mode_logits.numpy(),
        key_term=key_term.numpy(),
        reconstructed=reconstructed.numpy(),
        n_prefix=spec.n_prefix,
    )
