"""Removing modes (docs/method.md#removing-modes) against computations that do not go through the hook:
the model's own forward pass, a numpy softmax of the stored modes, the key-only term, planted modes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from qkatlas.ablation import InvalidModes, ablate, all_but_strongest, check_removed, removing_modes
from qkatlas.images import load_image_file, to_model_input
from qkatlas.models import ViTAdapter, load_model
from qkatlas.models.planted import generate_planted_images, read_planted_index
from qkatlas.svd import Decomposition, decompose
from tests.helpers.families import MODELS, TINY
from tests.helpers.pruned import randomize_biases_and_norms

LAYER, HEAD, QUERY_PATCH = 1, 2, 5


def _model(family: str) -> tuple[ViTAdapter, Decomposition]:
    model_id, overrides = MODELS[family]
    adapter = load_model(model_id, random_init=True, seed=1, overrides=overrides, classifier=True)
    randomize_biases_and_norms(adapter.module)
    adapter.module.eval()
    return adapter, decompose(adapter.weights())


def _image(adapter: ViTAdapter, photo_dir: Path, name: str = "chelsea.jpg") -> torch.Tensor:
    return to_model_input(load_image_file(photo_dir / name), adapter.preprocessing)


def _normed(adapter: ViTAdapter, image: torch.Tensor, layer: int) -> np.ndarray:
    """The LayerNorm output feeding block ``layer`` in the model's plain forward pass: ``[N, d]``."""
    captured: dict[int, torch.Tensor] = {}

    def keep(at: int, _residual: torch.Tensor, normed: torch.Tensor) -> None:
        captured[at] = normed[0]

    adapter.run_with_capture(adapter.normalize(image.unsqueeze(0)), keep)
    normed: np.ndarray = captured[layer].double().numpy()
    return normed


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=-1, keepdims=True)
    return probabilities


@pytest.mark.parametrize("family", list(MODELS))
def test_removing_nothing_reproduces_the_models_own_outputs(family: str, photo_dir: Path) -> None:
    adapter, dec = _model(family)
    pixels = adapter.normalize(_image(adapter, photo_dir).unsqueeze(0))
    own_attention = adapter.attention_probs(pixels)[LAYER][:, HEAD]
    own = adapter.outputs(pixels)
    captured: list[torch.Tensor] = []
    with (
        adapter.capturing_attention(LAYER, lambda probs: captured.append(probs[:, HEAD])),
        removing_modes(adapter, dec, LAYER, HEAD, []),
    ):
        patched = adapter.outputs(pixels)
    torch.testing.assert_close(captured[0], own_attention, atol=1e-6, rtol=0)
    torch.testing.assert_close(patched.embedding, own.embedding, atol=1e-5, rtol=1e-5)
    assert (patched.logits is None) == (own.logits is None)
    if own.logits is not None:
        torch.testing.assert_close(patched.logits, own.logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", list(MODELS))
def test_rows_before_and_after_match_a_numpy_softmax_of_the_stored_modes(family: str, photo_dir: Path) -> None:
    """Brute force, one image: ``softmax_j(Σ_{n∉R} σ_n P_U[i,n] P_V[j,n] / √d_h)`` from U, V, σ, the query
    offsets and the tokens the plain forward pass feeds the block (the intervention is at this block,
    so its input is the same in both runs)."""
    adapter, dec = _model(family)
    image = _image(adapter, photo_dir)
    removed = [0, 2, 3]
    result = ablate(adapter, dec, image, LAYER, HEAD, removed, QUERY_PATCH)
    x = _normed(adapter, image, LAYER)  # [N, d]
    query = x[adapter.spec.n_prefix + QUERY_PATCH]
    p_u = dec.U[LAYER, HEAD] @ query + dec.query_offset[LAYER, HEAD]  # [M]
    p_v = x @ dec.V[LAYER, HEAD].T  # [N, M]
    terms = dec.sigma[LAYER, HEAD] * p_u * p_v / np.sqrt(adapter.spec.d_head)  # [N, M]
    kept = np.ones(terms.shape[1], dtype=bool)
    kept[removed] = False
    np.testing.assert_allclose(result.row_before, _softmax(terms.sum(axis=1)), atol=1e-4)
    np.testing.assert_allclose(result.row_after, _softmax(terms[:, kept].sum(axis=1)), atol=1e-4)
    moved = 0.5 * np.abs(result.row_before - result.row_after).sum()
    assert result.moved[adapter.spec.n_prefix + QUERY_PATCH] == pytest.approx(moved, abs=1e-6)
    assert moved > 1e-3  # the removed modes mattered, so the rows above compare something
    assert -1.0 <= result.embedding_cosine < 1.0


def _key_only_rows(adapter: ViTAdapter, image: torch.Tensor, layer: int, head: int) -> np.ndarray:
    """``softmax_j(r·(W_k x_j + b_k)/√d_h)`` with ``r = b_q − W_q W_q⁺ b_q`` (numpy's pinv), ``[N]``."""
    weights = adapter.layer_weights(layer)
    w_q, b_q = weights.w_q[head].numpy(), weights.b_q[head].numpy()
    w_k, b_k = weights.w_k[head].numpy(), weights.b_k[head].numpy()
    r = b_q - w_q @ np.linalg.pinv(w_q) @ b_q
    keys = _normed(adapter, image, layer) @ w_k.T + b_k  # [N, d_h]
    return _softmax(keys @ r / np.sqrt(adapter.spec.d_head))


def test_removing_every_mode_leaves_the_key_only_term(photo_dir: Path) -> None:
    adapter = load_model("vit_tiny_patch16_224", random_init=True, seed=5, overrides={**TINY, "img_size": 64})
    randomize_biases_and_norms(adapter.module)
    # Head 2 of block 1 loses six query rows but keeps (large) biases there: W_q has rank 10 and b_q
    # leaves its range, so a key-only term survives; head 0 keeps a full-rank W_q (r = 0).
    qkv = adapter.query_projection(LAYER, 2).module
    assert isinstance(qkv, torch.nn.Linear) and qkv.bias is not None
    pruned = slice(2 * adapter.spec.d_head, 2 * adapter.spec.d_head + 6)
    with torch.no_grad():
        qkv.weight[pruned] = 0.0
        qkv.bias[pruned] = 30.0 * torch.randn(6, generator=torch.Generator().manual_seed(0))
    dec = decompose(adapter.weights())
    assert dec.active[LAYER, 2].sum() == 10 and dec.active[LAYER, 0].all()
    image = _image(adapter, photo_dir)
    n_tokens = adapter.spec.n_prefix + adapter.spec.n_patches
    for query_patch in (0, 7):
        full_rank = ablate(adapter, dec, image, LAYER, 0, all_but_strongest(dec.active[LAYER, 0], 0), query_patch)
        np.testing.assert_allclose(full_rank.row_after, np.full(n_tokens, 1 / n_tokens), atol=1e-6)
        deficient = ablate(adapter, dec, image, LAYER, 2, all_but_strongest(dec.active[LAYER, 2], 0), query_patch)
        expected = _key_only_rows(adapter, image, LAYER, 2)
        assert expected.max() > 2 / n_tokens  # not uniform: the test tells the two heads apart
        np.testing.assert_allclose(deficient.row_after, expected, atol=1e-5)


def test_removing_the_planted_red_to_blue_mode_takes_red_attention_off_blue(tmp_path: Path) -> None:
    adapter = load_model("planted")
    dec = decompose(adapter.weights())
    paths = generate_planted_images(tmp_path, 1)
    record = read_planted_index(tmp_path)[0]
    assert record.description == "red + blue"
    image = to_model_input(load_image_file(paths[0][0]), adapter.preprocessing)
    spec = adapter.spec
    red_query = record.cells["red"][0][0] * spec.grid + record.cells["red"][0][1]
    blue_keys = [spec.n_prefix + row * spec.grid + col for row, col in record.cells["blue"]]
    planted = ablate(adapter, dec, image, 0, 0, [0], red_query)  # L0 H0 mode 0: red → blue, σ = 9
    assert planted.row_before[blue_keys].sum() > 0.9
    assert planted.row_after[blue_keys].sum() < 0.25
    assert planted.moved[spec.n_prefix + red_query] > 0.7
    green = ablate(adapter, dec, image, 0, 0, [1], red_query)  # green ↔ green, on an image without green
    assert green.moved[spec.n_prefix + red_query] < 0.01
    weak = ablate(adapter, dec, image, 0, 0, [2], red_query)  # on dimensions the tokens never use
    assert weak.moved.max() < 1e-6


def test_the_hook_leaves_other_threads_forward_passes_alone(photo_dir: Path) -> None:
    adapter, dec = _model("timm-vit")
    pixels = adapter.normalize(_image(adapter, photo_dir).unsqueeze(0))
    own = adapter.outputs(pixels).embedding
    elsewhere: list[torch.Tensor] = []
    with removing_modes(adapter, dec, 0, HEAD, all_but_strongest(dec.active[0, HEAD], 0)):
        here = adapter.outputs(pixels).embedding
        thread = threading.Thread(target=lambda: elsewhere.append(adapter.outputs(pixels).embedding))
        thread.start()
        thread.join()
    assert (here - own).abs().max() > 1e-5  # far above float32 noise: the hook acted here
    torch.testing.assert_close(elsewhere[0], own, atol=0, rtol=0)


def test_bad_mode_sets_are_refused_with_the_reason() -> None:
    adapter = load_model("planted")
    dec = decompose(adapter.weights())
    n_active = int(dec.active[0, 0].sum())
    for removed, words in (
        ([], "no mode"),
        ([1, 1], "twice"),
        ([99], "no mode 99"),
    ):
        with pytest.raises(InvalidModes, match=words):
            check_removed(dec.active[0, 0], removed)
    assert all_but_strongest(dec.active[0, 0], 2) == tuple(range(2, n_active))
    with pytest.raises(InvalidModes, match="removes none"):
        all_but_strongest(dec.active[0, 0], n_active)
    with pytest.raises(InvalidModes, match="inactive"):
        check_removed(np.array([True, True, False]), [2])


def test_classifier_outputs_are_probabilities_when_the_model_has_a_classifier(photo_dir: Path) -> None:
    adapter, dec = _model("timm-deit-distilled")
    assert adapter.class_names is not None and len(adapter.class_names) == 1000
    result = ablate(adapter, dec, _image(adapter, photo_dir), LAYER, HEAD, [0], QUERY_PATCH)
    assert result.probabilities_before is not None and result.probabilities_after is not None
    assert result.probabilities_before.sum() == pytest.approx(1.0)
    headless, headless_dec = _model("hf-dino")
    assert headless.class_names is None
    assert ablate(headless, headless_dec, _image(headless, photo_dir), LAYER, HEAD, [0], 0).probabilities_after is None


def test_capture_hooks_leave_other_threads_forward_passes_alone(photo_dir: Path) -> None:
    """A forward pass another thread runs while this one captures (the service's analysis threads share a
    model) reaches none of this thread's capture callbacks."""
    adapter, _dec = _model("hf-vit")
    pixels = adapter.normalize(_image(adapter, photo_dir).unsqueeze(0))
    layers: list[int] = []

    def keep(layer: int, _residual: torch.Tensor, _normed: torch.Tensor) -> None:
        layers.append(layer)
        if layers == [0]:  # mid-pass, once: another thread runs the whole model, capturing its attention too
            other = threading.Thread(target=lambda: adapter.attention_probs(pixels))
            other.start()
            other.join()

    adapter.run_with_capture(pixels, keep)
    assert layers == list(range(adapter.spec.n_layers))
