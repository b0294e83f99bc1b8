"""The attention moved by each mode (docs/method.md#attention-moved-by-a-mode) against brute force, for one
process, two ``torchrun`` ranks and a killed and resumed run, and on the planted model.

The reference takes one image at a time: the model's own LayerNorm output captured in the forward pass,
the head's logits from the model's own weights (so the key-only term of a rank-deficient head is in them),
each mode's logits from the atlas's stored ``U``, ``V``, σ and query offset, and both softmaxes in float64
numpy; the effect is the mean over patch queries of half the L1 distance between the two rows.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import timm
import torch
from timm.layers.attention import Attention
from timm.models.vision_transformer import Block, VisionTransformer

from qkatlas.atlas import Atlas
from qkatlas.images import load_image_file, open_image_source, to_model_input
from qkatlas.models import load_model, load_model_from_source
from qkatlas.models.planted import generate_planted_images
from tests.helpers.atlases import (
    TINY_OVERRIDES,
    TINY_VIT,
    assert_same_atlas,
    atlas_contents,
    build_atlas,
    run_killed_then_resumed,
    run_two_ranks,
)
from tests.helpers.pruned import ACTIVE_MODES, prune_heads, randomize_biases_and_norms

#: The job's float32 effects against float64 brute force.
ATOL = 1e-6


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    normalized: np.ndarray = shifted / shifted.sum(axis=-1, keepdims=True)
    return normalized


def _brute_force_effects(atlas: Atlas, images: list[Path]) -> np.ndarray:
    """``[N_images, L, H, M]`` float64: every mode's effect on every image, one image at a time."""
    adapter = load_model_from_source(atlas.manifest.model_source)
    spec = adapter.spec
    weights = [adapter.layer_weights(layer) for layer in range(spec.n_layers)]
    u, v = atlas.arrays["U"].astype(np.float64), atlas.arrays["V"].astype(np.float64)
    sigma, offset = atlas.sigma_all, atlas.arrays["query_offset"]
    scale = 1.0 / math.sqrt(spec.d_head)
    found = np.zeros((len(images), spec.n_layers, spec.n_heads, spec.d_head))
    for number, path in enumerate(images):
        pixels = to_model_input(load_image_file(path), atlas.manifest.preprocessing)
        captured: list[np.ndarray] = []

        def keep(_layer: int, _residual: torch.Tensor, normed: torch.Tensor, into: list[np.ndarray] = captured) -> None:
            into.append(normed[0].double().numpy())

        adapter.run_with_capture(adapter.normalize(pixels.unsqueeze(0)), keep)
        for layer, tokens in enumerate(captured):  # tokens [N, d]: prefix tokens first
            patches, w = tokens[spec.n_prefix :], weights[layer]
            for head in range(spec.n_heads):
                queries = patches @ w.w_q[head].numpy().T + w.b_q[head].numpy()
                keys = tokens @ w.w_k[head].numpy().T + w.b_k[head].numpy()
                logits = queries @ keys.T * scale  # [P, N]
                attention = _softmax(logits)
                for mode in range(spec.d_head):
                    query_map = patches @ u[layer, head, mode] + offset[layer, head, mode]
                    key_map = tokens @ v[layer, head, mode]
                    removed = _softmax(logits - sigma[layer, head, mode] * np.outer(query_map, key_map) * scale)
                    found[number, layer, head, mode] = 0.5 * np.abs(attention - removed).sum(axis=-1).mean()
    return found


def _check_against_brute_force(atlas: Atlas, images: list[Path]) -> None:
    assert atlas.effects is not None
    arrays, effects = atlas.arrays, _brute_force_effects(atlas, images)
    assert (arrays["effects_count"] == len(images)).all()
    np.testing.assert_allclose(arrays["effects_mean"], effects.mean(axis=0), atol=ATOL, rtol=1e-4)
    np.testing.assert_allclose(arrays["effects_std"], effects.std(axis=0), atol=ATOL, rtol=1e-3)
    np.testing.assert_allclose(arrays["effects_min"], effects.min(axis=0), atol=ATOL, rtol=1e-4)
    np.testing.assert_allclose(arrays["effects_max"], effects.max(axis=0), atol=ATOL, rtol=1e-4)
    assert (arrays["effects_histogram"].sum(axis=-1) == len(images)).all()
    assert not effects[:, ~atlas.active_all].any()  # an inactive mode moves nothing
    top, values = arrays["effects_top_indices"], arrays["effects_top_values"]
    k = top.shape[-1]
    checked = 0
    for at in zip(*np.nonzero(atlas.active_all), strict=True):
        per_image = effects[(slice(None), *at)]
        stored = [int(i) for i in top[at] if i >= 0]
        np.testing.assert_allclose(values[at][: len(stored)], per_image[stored], atol=ATOL, rtol=1e-4)
        assert (np.diff(values[at][: len(stored)]) <= 0).all()  # largest first
        order = np.lexsort((np.arange(len(per_image)), -per_image))  # largest first, ties by lower index
        ranked = np.concatenate([[np.inf], per_image[order], [-np.inf]])
        for position in range(min(k, len(per_image))):
            clear = min(ranked[position] - ranked[position + 1], ranked[position + 1] - ranked[position + 2])
            if clear > 10 * ATOL and per_image[order[position]] > ATOL:  # apart from its neighbours: same place
                assert stored[position] == order[position], (at, position)
                checked += 1
    assert checked >= 0.5 * k * atlas.active_all.sum()
    shown = set(np.unique(top[top >= 0]).tolist())
    assert shown <= {int(path.stem) for path in (atlas.path / "thumbs").glob("*.jpg")}


def _images(root: Path) -> list[Path]:
    return [item.path for item in open_image_source(root).items]


@pytest.fixture(scope="module")
def randomized_pruned_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny ViT with random biases and LayerNorm parameters (every logit term counts) and the pruned
    heads of ``tests.helpers.pruned`` (rank-deficient W_q, a dead head with its key-only term), saved as a
    local timm checkpoint. L1 H2 gets its pruned query rows' biases back: its b_q leaves the range of its
    rank-10 W_q, so its logits carry a key-only term r·(W_k x_j + b_k) beside 10 active modes, which
    removing a mode must keep."""
    adapter = load_model(TINY_VIT, random_init=True, seed=6, overrides=TINY_OVERRIDES)
    randomize_biases_and_norms(adapter.module)
    prune_heads(adapter.module)
    module = adapter.module
    assert isinstance(module, VisionTransformer)
    qkv = cast(Attention, cast(Block, module.blocks[1]).attn).qkv
    d_head = qkv.in_features // 3
    with torch.no_grad():  # the 6 pruned query rows of head 2 (their weights stay 0)
        qkv.bias[2 * d_head : 2 * d_head + 6] = 3.0 * torch.randn(6, generator=torch.Generator().manual_seed(1))
    checkpoint = tmp_path_factory.mktemp("randomized-pruned-vit")
    timm.models.save_for_hf(adapter.module, str(checkpoint), safe_serialization=True)
    return checkpoint


def test_effects_of_one_process_equal_brute_force(
    tmp_path: Path, randomized_pruned_checkpoint: Path, planted_image_dir: Path
) -> None:
    path = build_atlas(
        tmp_path, str(randomized_pruned_checkpoint), planted_image_dir, "--top-k", "3", "--batch-size", "5", "--effects"
    )
    atlas = Atlas.open(path)
    assert atlas.active_all.sum(axis=-1).tolist() == ACTIVE_MODES
    assert atlas.manifest.effects.computed and atlas.manifest.effects.top_images == 8
    _check_against_brute_force(atlas, _images(planted_image_dir))


def test_planted_modes_move_more_attention_than_the_other_modes_of_their_head(
    tmp_path: Path, planted_image_dir: Path
) -> None:
    atlas = Atlas.open(build_atlas(tmp_path, "planted", planted_image_dir, "--top-k", "2", "--effects"))
    assert atlas.effects is not None
    means = atlas.effects.means()
    planted = atlas.manifest.model.planted_modes
    for mode in planted:
        others = [
            n
            for n in range(atlas.n_modes)
            if (mode.layer, mode.head, n) not in {(p.layer, p.head, p.mode) for p in planted}
        ]
        assert means[mode.layer, mode.head, mode.mode] > 0.01  # at least 1 % of the attention, on average
        assert means[mode.layer, mode.head, mode.mode] > 10 * means[mode.layer, mode.head, others].max()


def test_without_effects_the_atlas_says_so_and_resume_adds_them(tmp_path: Path, planted_image_dir: Path) -> None:
    atlas = Atlas.open(build_atlas(tmp_path, "planted", planted_image_dir, "--top-k", "2", "--no-effects"))
    assert atlas.effects is None and not atlas.manifest.effects.computed
    assert not (atlas.path / "effects").exists()
    # --resume keeps finished atlases, but not one that lacks the effects now asked for.
    rebuilt = Atlas.open(build_atlas(tmp_path, "planted", planted_image_dir, "--top-k", "2", "--resume", "--effects"))
    assert rebuilt.effects is not None and (rebuilt.path / "effects" / "mean.npy").exists()


def test_effects_of_two_ranks_equal_brute_force_and_one_process(tmp_path: Path, planted_image_dir: Path) -> None:
    options = ["--random-init", "--top-k", "3", "--batch-size", "5", "--effects"]
    single = build_atlas(tmp_path / "single", TINY_VIT, planted_image_dir, *options, overrides=TINY_OVERRIDES)
    run_two_ranks(planted_image_dir, tmp_path / "dist", "--model", TINY_VIT, *options)
    distributed = Atlas.open(tmp_path / "dist" / single.name)
    _check_against_brute_force(distributed, _images(planted_image_dir))
    assert_same_atlas(distributed.path, single)  # counts, histograms and top images exactly; sums to rounding


def test_effects_of_a_killed_and_resumed_run_equal_brute_force(tmp_path: Path) -> None:
    generate_planted_images(tmp_path / "images", n=64, seed=2)  # 64 distinct images: no tie among the best
    listing = tmp_path / "images.txt"  # enough batches for the run to be killed after a checkpoint
    images = _images(tmp_path / "images")
    listing.write_text("".join(f"{path}\n" for path in images))
    resumed, reference = run_killed_then_resumed(tmp_path, listing, "--effects")
    _check_against_brute_force(Atlas.open(resumed), images)
    assert atlas_contents(resumed) == atlas_contents(reference)  # bit for bit, sums included
