"""The exact basis rebuilds each model's *own* attention probabilities from its modes
(docs/method.md#exact-basis).

The model computes its attention with its own modules (biases, LayerNorm γ/β, fused qkv); we rebuild
``softmax_j(Σ_n σ_n P_U[i,n] P_V[j,n] / √d_h)`` from the modes alone and compare.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from qkatlas.analysis import ImageAnalyzer, attention_edge_split
from qkatlas.conventions import Basis
from qkatlas.images import load_image_file, to_model_input
from qkatlas.models import ViTAdapter, load_model
from qkatlas.models.base import BlockCapture
from qkatlas.scoring import ModeProjector
from qkatlas.svd import Decomposition, decompose
from tests.helpers.families import MODELS, TINY
from tests.helpers.pruned import ACTIVE_MODES, DEAD_WITH_BIAS, prune_heads, randomize_biases_and_norms


def _batch(adapter: ViTAdapter, photo_dir: Path) -> torch.Tensor:
    images = [load_image_file(photo_dir / name) for name in ("astronaut.jpg", "coffee.jpg")]
    return adapter.normalize(torch.stack([to_model_input(image, adapter.preprocessing) for image in images]))


def _exact_maps(projector: ModeProjector, layer: int, capture: BlockCapture) -> tuple[torch.Tensor, torch.Tensor]:
    """``(P_U, P_V)`` of the exact basis over all tokens (prefix included), ``[B, N, H, M]`` float64, as
    the kernel takes them from the model's own queries and keys (offsets added)."""
    query, key = projector.project_exact(layer, capture.normed, capture.query, capture.key)
    return (
        query.double() + projector.exact_query_offset[layer].double(),
        key.double() + projector.exact_key_offset[layer].double(),
    )


def _rebuilt_and_real_attention(
    adapter: ViTAdapter, dec: Decomposition, photo_dir: Path
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer, ``softmax_j(Σ_n σ_n P_U[i,n] P_V[j,n] / √d_h)`` from the modes alone and the model's
    own attention probabilities, both ``[B, H, N, N]`` over all tokens."""
    projector = ModeProjector(dec, adapter.weights(), "cpu", torch.float64)
    pixels = _batch(adapter, photo_dir)
    captured: list[BlockCapture] = []
    adapter.run_capturing_blocks(pixels, lambda _layer, capture: captured.append(capture))
    expected = adapter.attention_probs(pixels)
    spec = adapter.spec
    pairs = []
    for layer in range(spec.n_layers):
        query, key = _exact_maps(projector, layer, captured[layer])
        sigma = torch.from_numpy(dec.sigma[layer])  # [H, M]
        logits = torch.einsum("bihm,hm,bjhm->bhij", query, sigma, key) * spec.d_head**-0.5
        pairs.append((logits.softmax(dim=-1).float(), expected[layer].float()))
    return pairs


@pytest.mark.parametrize("family", list(MODELS))
def test_maps_from_the_models_queries_and_keys_equal_the_direct_projection(family: str, photo_dir: Path) -> None:
    """docs/method.md#exact-basis: ``q·(R_a⁻¹u'_n) = u_n·(x + c)`` and ``(k − b_k)·(R_b⁻¹v'_n) = v_n·x``,
    in the kernel's float32 against numpy's float64 projection of the LayerNorm output, every family,
    with biases and LayerNorm parameters randomized."""
    model_id, overrides = MODELS[family]
    adapter = load_model(model_id, random_init=True, seed=1, overrides=overrides)
    randomize_biases_and_norms(adapter.module)
    adapter.module.eval()
    dec = decompose(adapter.weights())
    projector = ModeProjector(dec, adapter.weights(), "cpu", torch.float32)
    assert projector.direct_heads == [[]] * adapter.spec.n_layers  # random heads are well conditioned
    captured: list[BlockCapture] = []
    adapter.run_capturing_blocks(_batch(adapter, photo_dir), lambda _layer, capture: captured.append(capture))
    for layer, capture in enumerate(captured):
        normed = capture.normed.double().numpy()  # [B, N, d]
        direct_query = np.einsum("bnd,hmd->bnhm", normed, dec.U[layer]) + dec.query_offset[layer]
        direct_key = np.einsum("bnd,hmd->bnhm", normed, dec.V[layer])
        query, key = _exact_maps(projector, layer, capture)
        scale = np.abs(direct_query).max()
        np.testing.assert_allclose(query.numpy(), direct_query, rtol=0, atol=1e-5 * scale)
        np.testing.assert_allclose(key.numpy(), direct_key, rtol=0, atol=1e-5 * np.abs(direct_key).max())


@pytest.mark.parametrize("family", list(MODELS))
def test_modes_rebuild_the_models_own_attention(family: str, photo_dir: Path) -> None:
    model_id, overrides = MODELS[family]
    adapter = load_model(model_id, random_init=True, seed=1, overrides=overrides)
    randomize_biases_and_norms(adapter.module)
    adapter.module.eval()
    for rebuilt, expected in _rebuilt_and_real_attention(adapter, decompose(adapter.weights()), photo_dir):
        assert rebuilt.shape == expected.shape
        torch.testing.assert_close(rebuilt, expected, atol=1e-4, rtol=0)


def test_active_modes_of_pruned_and_dead_heads_still_rebuild_the_attention(photo_dir: Path) -> None:
    """docs/method.md#inactive-modes: zero and rank-deficient W_q/W_k give inactive modes, and the
    active ones still rebuild the model's attention, in heads whose b_q lies in the range of W_q."""
    adapter = load_model("vit_tiny_patch16_224", random_init=True, seed=4, overrides={**TINY, "img_size": 64})
    randomize_biases_and_norms(adapter.module)
    prune_heads(adapter.module)
    adapter.module.eval()
    dec = decompose(adapter.weights())
    # Every head with a zero or rank-deficient W_q or W_k keeps the direct projection (L0 H2 alone is whole).
    assert ModeProjector(dec, adapter.weights(), "cpu", torch.float32).direct_heads == [[0, 1], [0, 1, 2]]
    for name in ("U", "V", "sigma", "cos", "query_offset"):
        assert np.isfinite(getattr(dec, name)).all(), name
    assert dec.active.sum(axis=-1).tolist() == ACTIVE_MODES
    for layer, (rebuilt, expected) in enumerate(_rebuilt_and_real_attention(adapter, dec, photo_dir)):
        for head in range(adapter.spec.n_heads):
            if (layer, head) != DEAD_WITH_BIAS:
                torch.testing.assert_close(rebuilt[:, head], expected[:, head], atol=1e-4, rtol=0)
    # The dead head keeps its query bias: its logit is the key-only term alone, which no mode holds
    # and the edge split reports as the key term.
    image = to_model_input(load_image_file(photo_dir / "chelsea.jpg"), adapter.preprocessing)
    split = attention_edge_split(adapter, dec, image, *DEAD_WITH_BIAS, query_patch=5)
    assert not split.mode_logits.any()
    np.testing.assert_allclose(torch.from_numpy(split.key_term).softmax(0).numpy(), split.attention, atol=1e-5)


def test_edge_split_sums_to_the_real_attention_row(photo_dir: Path) -> None:
    adapter = load_model("vit_tiny_patch16_224", random_init=True, seed=2, overrides={**TINY, "img_size": 64})
    randomize_biases_and_norms(adapter.module)
    dec = decompose(adapter.weights())
    image = to_model_input(load_image_file(photo_dir / "chelsea.jpg"), adapter.preprocessing)
    split = attention_edge_split(adapter, dec, image, layer=1, head=2, query_patch=5)
    np.testing.assert_allclose(split.reconstructed, split.attention, atol=1e-5)
    assert split.mode_logits.shape == (dec.shape[2], adapter.spec.n_prefix + adapter.spec.n_patches)
    assert split.attention.sum() == pytest.approx(1.0, abs=1e-5)


def test_image_analysis_ranks_modes_by_contribution(photo_dir: Path) -> None:
    adapter = load_model("vit_tiny_patch16_224", random_init=True, seed=3, overrides={**TINY, "img_size": 64})
    dec = decompose(adapter.weights())
    image = to_model_input(load_image_file(photo_dir / "rocket.jpg"), adapter.preprocessing)
    result = ImageAnalyzer(adapter, dec).analyze(image)
    spec = adapter.spec
    for basis in (Basis.faithful, Basis.exact):
        q, k = result.query[basis], result.key[basis]
        assert q.shape == (spec.n_layers, spec.n_heads, spec.d_head, spec.grid, spec.grid)
        pos = q.max(axis=(-1, -2)) * k.max(axis=(-1, -2))
        neg = q.min(axis=(-1, -2)) * k.min(axis=(-1, -2))
        np.testing.assert_allclose(result.scores[basis][..., 0], pos, rtol=1e-5)
        np.testing.assert_allclose(result.contribution[basis], dec.sigma * np.maximum(pos, neg), rtol=1e-5)
    assert result.key_salience.shape == (spec.n_layers, spec.n_heads, spec.grid, spec.grid)
