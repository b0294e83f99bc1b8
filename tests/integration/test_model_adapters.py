"""Model adapters on tiny random-init instances of every family (CPU, no network).

Each family is checked against the module's *own* computations: its query/key ``Linear`` outputs
(the bilinear identity pins the query/key orientation and the head split), its own attention
probabilities, and its own block inputs (the capture hooks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from qkatlas.atlas.contract import ModelInfo
from qkatlas.models import load_model, model_slug, model_source
from qkatlas.models.base import ViTAdapter


@dataclass(frozen=True)
class Case:
    """A tiny instance of one family and what its spec must say."""

    name: str
    model_id: str
    overrides: dict[str, Any]
    prefix_kinds: tuple[str, ...]
    grid: int
    d_head: int
    norm_name: str


_TINY_HF = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 64}
CASES = [
    Case(
        "timm-vit-dhead80",
        "vit_tiny_patch16_224",
        {"depth": 2, "embed_dim": 160, "num_heads": 2, "img_size": 64},
        ("cls",),
        4,
        80,
        "norm1",
    ),
    Case(
        "timm-deit-distilled",
        "deit_tiny_distilled_patch16_224.fb_in1k",
        {"depth": 2, "embed_dim": 64, "num_heads": 2, "img_size": 64},
        ("cls", "distillation"),
        4,
        32,
        "norm1",
    ),
    Case(
        "timm-dinov2-reg",
        "vit_small_patch14_reg4_dinov2.lvd142m",
        {"depth": 2, "embed_dim": 64, "num_heads": 2, "img_size": 56},
        ("cls", "register", "register", "register", "register"),
        4,
        32,
        "norm1",
    ),
    Case(
        "timm-clip",
        "timm/vit_base_patch16_clip_224.openai",
        {"depth": 2, "embed_dim": 64, "num_heads": 2, "img_size": 64},
        ("cls",),
        4,
        32,
        "norm1",
    ),
    Case(
        "hf-vit-dhead80",
        "google/vit-huge-patch14-224-in21k",
        {**_TINY_HF, "hidden_size": 160, "image_size": 56},
        ("cls",),
        4,
        80,
        "layernorm_before",
    ),
    Case(
        "hf-deit-distilled",
        "facebook/deit-tiny-distilled-patch16-224",
        {**_TINY_HF, "image_size": 64},
        ("cls", "distillation"),
        4,
        32,
        "layernorm_before",
    ),
    Case(
        "hf-clip-vision",
        "openai/clip-vit-base-patch16",
        {**_TINY_HF, "image_size": 64},
        ("cls",),
        4,
        32,
        "layer_norm1",
    ),
    Case(
        "hf-dinov2-registers",
        "facebook/dinov2-with-registers-small",
        _TINY_HF,
        ("cls", "register", "register", "register", "register"),
        16,  # runs at the processor's 224 px crop with 14 px patches
        32,
        "norm1",
    ),
]


@pytest.fixture(scope="module", params=CASES, ids=lambda case: case.name)
def loaded(request: pytest.FixtureRequest) -> tuple[Case, ViTAdapter]:
    case: Case = request.param
    adapter = load_model(case.model_id, random_init=True, seed=1, overrides=case.overrides)
    return case, adapter


def _pixels(adapter: ViTAdapter, batch: int = 2, seed: int = 0) -> torch.Tensor:
    size = adapter.spec.image_size
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _query_key_outputs(adapter: ViTAdapter, layer: int, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The module's own query and key projections of ``x [n, d]`` *without bias*, split into heads
    the way the module's forward splits them: ``[n, H, d_h]`` each."""
    block = adapter.blocks()[layer]
    n_heads, d_head = adapter.spec.n_heads, adapter.spec.d_head
    attn = getattr(block, "attn", None)
    if attn is not None:  # timm: fused qkv, reshaped (B, N, 3, H, d_h) in Attention.forward
        fused = attn.qkv(x) - attn.qkv(torch.zeros_like(x))
        qkv = fused.reshape(x.shape[0], 3, n_heads, d_head)
        return qkv[:, 0], qkv[:, 1]
    attention: Any = getattr(block, "attention", None) or block.self_attn  # transformers 5 names
    query = attention.q_proj(x) - attention.q_proj(torch.zeros_like(x))
    key = attention.k_proj(x) - attention.k_proj(torch.zeros_like(x))
    return query.view(x.shape[0], -1, d_head), key.view(x.shape[0], -1, d_head)


def test_spec(loaded: tuple[Case, ViTAdapter]) -> None:
    case, adapter = loaded
    spec = adapter.spec
    assert spec.prefix_kinds == case.prefix_kinds
    assert spec.n_prefix == len(case.prefix_kinds)
    assert spec.grid == case.grid and spec.n_patches == case.grid**2
    assert spec.d_head == case.d_head and spec.n_heads * spec.d_head == spec.d_model
    assert spec.n_layers == 2 and spec.random_init
    assert adapter.preprocessing.crop == spec.image_size
    assert ModelInfo.from_spec(spec).grid == case.grid


def test_bilinear_identity_pins_query_key_orientation(loaded: tuple[Case, ViTAdapter]) -> None:
    _case, adapter = loaded
    d_model = adapter.spec.d_model
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(5, d_model, generator=generator)
    y = torch.randn(5, d_model, generator=generator)
    for layer in range(adapter.spec.n_layers):
        weights = adapter.layer_weights(layer)
        assert weights.w_q.dtype == torch.float64
        assert weights.w_q.shape == (adapter.spec.n_heads, adapter.spec.d_head, d_model)
        with torch.no_grad():
            query, _ = _query_key_outputs(adapter, layer, x)
            _, key = _query_key_outputs(adapter, layer, y)
        for head in range(adapter.spec.n_heads):
            bilinear = weights.w_q[head].T @ weights.w_k[head]  # M = W_qᵀ W_k, [d, d]
            expected = (query[:, head].double() * key[:, head].double()).sum(-1)
            actual = torch.einsum("nd,de,ne->n", x.double(), bilinear, y.double())
            torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
            # Swapping query and key must be detectable by this very test.
            swapped = torch.einsum("nd,de,ne->n", x.double(), bilinear.T, y.double())
            assert not torch.allclose(swapped, expected, rtol=1e-3, atol=1e-3)


def test_layer_weights_rebuild_the_models_own_attention(loaded: tuple[Case, ViTAdapter]) -> None:
    """softmax((LN(r) W_qᵀ + b_q)(LN(r) W_kᵀ + b_k)ᵀ / √d_h) from the captured residual equals the
    model's own attention probabilities — biases, LayerNorm and head split included."""
    _case, adapter = loaded
    pixels = _pixels(adapter)
    residuals: dict[int, torch.Tensor] = {}

    def capture(layer: int, residual: torch.Tensor, _normed: torch.Tensor) -> None:
        residuals.setdefault(layer, residual)

    adapter.run_with_capture(pixels, capture)
    own = adapter.attention_probs(pixels)
    for layer in range(adapter.spec.n_layers):
        weights = adapter.layer_weights(layer)
        normed = nn.functional.layer_norm(
            residuals[layer].double(),
            (adapter.spec.d_model,),
            weights.ln_weight,
            weights.ln_bias,
            weights.ln_eps,
        )
        query = torch.einsum("bnd,hed->bhne", normed, weights.w_q) + weights.b_q[None, :, None]
        key = torch.einsum("bnd,hed->bhne", normed, weights.w_k) + weights.b_k[None, :, None]
        logits = query @ key.transpose(-1, -2) / adapter.spec.d_head**0.5
        torch.testing.assert_close(logits.softmax(-1), own[layer].double(), rtol=0, atol=2e-5)


def _block_inputs(adapter: ViTAdapter, pixels: torch.Tensor) -> list[torch.Tensor]:
    """What enters each block, computed here by running the model's own pieces in sequence."""
    module: Any = adapter.module
    if adapter.spec.extra["library"] == "timm":
        hidden = module.norm_pre(module._pos_embed(module.patch_embed(pixels)))
        inputs = []
        for block in module.blocks:
            inputs.append(hidden)
            hidden = block(hidden)
        return inputs
    outputs = module(pixel_values=pixels, output_hidden_states=True)
    return list(outputs.hidden_states[:-1])


def test_capture_hooks_see_block_inputs_and_their_norm(loaded: tuple[Case, ViTAdapter]) -> None:
    case, adapter = loaded
    pixels = _pixels(adapter, seed=3)
    captured: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def capture(layer: int, residual: torch.Tensor, normed: torch.Tensor) -> None:
        captured.setdefault(layer, (residual, normed))

    adapter.run_with_capture(pixels, capture)
    assert sorted(captured) == list(range(adapter.spec.n_layers))
    with torch.inference_mode():
        expected_inputs = _block_inputs(adapter, pixels)
    tokens = adapter.spec.n_prefix + adapter.spec.n_patches
    for layer, block in enumerate(adapter.blocks()):
        residual, normed = captured[layer]
        assert residual.shape == (2, tokens, adapter.spec.d_model)
        torch.testing.assert_close(residual, expected_inputs[layer], rtol=1e-5, atol=1e-5)
        with torch.inference_mode():
            torch.testing.assert_close(normed, getattr(block, case.norm_name)(residual))


def test_clip_residual_entering_block_zero_is_after_pre_layernorm() -> None:
    case = next(c for c in CASES if c.name == "hf-clip-vision")
    adapter = load_model(case.model_id, random_init=True, overrides=case.overrides)
    pixels = _pixels(adapter)
    captured: dict[int, torch.Tensor] = {}

    def capture(layer: int, residual: torch.Tensor, _normed: torch.Tensor) -> None:
        captured.setdefault(layer, residual)

    adapter.run_with_capture(pixels, capture)
    module: Any = adapter.module
    with torch.inference_mode():
        torch.testing.assert_close(captured[0], module.pre_layrnorm(module.embeddings(pixels)))


def test_attention_probs_shape_and_rows(loaded: tuple[Case, ViTAdapter]) -> None:
    _case, adapter = loaded
    probs = adapter.attention_probs(_pixels(adapter, batch=3))
    tokens = adapter.spec.n_prefix + adapter.spec.n_patches
    assert len(probs) == adapter.spec.n_layers
    for layer_probs in probs:
        assert layer_probs.shape == (3, adapter.spec.n_heads, tokens, tokens)
        assert layer_probs.dtype == torch.float32
        torch.testing.assert_close(layer_probs.sum(-1), torch.ones(3, adapter.spec.n_heads, tokens))


def test_attention_probs_restores_the_fast_path(loaded: tuple[Case, ViTAdapter]) -> None:
    _case, adapter = loaded
    module: Any = adapter.module
    if adapter.spec.extra["library"] == "timm":
        before = [block.attn.fused_attn for block in module.blocks]
        adapter.attention_probs(_pixels(adapter, batch=1))
        assert [block.attn.fused_attn for block in module.blocks] == before
    else:
        before = module.config._attn_implementation
        adapter.attention_probs(_pixels(adapter, batch=1))
        assert module.config._attn_implementation == before


def test_random_init_is_reproducible_and_source_is_recorded(loaded: tuple[Case, ViTAdapter]) -> None:
    case, adapter = loaded
    source = model_source(adapter)
    assert source.model_dump() == {
        "id": case.model_id,
        "random_init": True,
        "seed": 1,
        "revision": None,
        "overrides": case.overrides,
        "planted": False,
    }
    again = load_model(case.model_id, random_init=True, seed=1, overrides=case.overrides)
    other_seed = load_model(case.model_id, random_init=True, seed=2, overrides=case.overrides)
    torch.testing.assert_close(again.layer_weights(1).w_k, adapter.layer_weights(1).w_k, rtol=0, atol=0)
    assert not torch.equal(other_seed.layer_weights(1).w_k, adapter.layer_weights(1).w_k)


def test_preprocessing_per_family() -> None:
    timm_vit = load_model("vit_small_patch16_224.dino", random_init=True, overrides={"depth": 1})
    assert (timm_vit.preprocessing.crop, timm_vit.preprocessing.resize) == (224, 248)  # crop_pct 0.9
    assert timm_vit.preprocessing.resize_mode == "shortest"
    hf = {
        case.name: load_model(case.model_id, random_init=True, overrides=case.overrides).preprocessing
        for case in CASES
        if case.name.startswith("hf-")
    }
    assert hf["hf-vit-dhead80"].resize_mode == "exact" and hf["hf-vit-dhead80"].mean == (0.5, 0.5, 0.5)
    assert (hf["hf-deit-distilled"].resize, hf["hf-deit-distilled"].crop) == (73, 64)
    assert hf["hf-deit-distilled"].interpolation == "bicubic"
    assert hf["hf-clip-vision"].resize_mode == "shortest" and hf["hf-clip-vision"].mean[0] == 0.48145466
    assert (hf["hf-dinov2-registers"].resize, hf["hf-dinov2-registers"].crop) == (256, 224)


@pytest.mark.parametrize(
    ("model_id", "slug"),
    [
        ("facebook/dino-vits16", "facebook--dino-vits16"),
        ("vit_small_patch16_224.dino", "vit_small_patch16_224.dino"),
        ("timm/vit_small_patch16_224.dino", "vit_small_patch16_224.dino"),
        ("hf-hub:timm/vit_small_patch16_224.dino", "vit_small_patch16_224.dino"),
        ("OpenAI/CLIP-ViT-Base-Patch16", "openai--clip-vit-base-patch16"),
        ("planted", "planted"),
    ],
)
def test_model_slug(model_id: str, slug: str) -> None:
    assert model_slug(model_id) == slug


def test_model_slug_of_local_directory(tmp_path: Path) -> None:
    checkpoint = tmp_path / "My Checkpoint (v2)"
    checkpoint.mkdir()
    assert model_slug(str(checkpoint)) == "my-checkpoint-v2"
