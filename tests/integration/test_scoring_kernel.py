"""The scoring kernel's top-K against brute force: every image captured alone, its tokens projected onto
the modes in float64 numpy (the exact basis from the LayerNorm output, not from the model's queries
and keys as the kernel takes it), every column ranked by sorting.

Both merges are checked: compact, the CPU's, with a batch's candidates merged at once and with buffers
so small that they merge layer by layer (``CANDIDATE_BYTES``); and fixed-shape, the GPU's, with windows
of layers that do and do not divide the depth (``merge_window_layers``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qkatlas.scoring
from qkatlas.conventions import BASES, Basis
from qkatlas.models import ViTAdapter, load_model
from qkatlas.scoring import ModeKernel, ProjectedLayer, TopKScorer
from qkatlas.svd import Decomposition, decompose
from tests.helpers.atlases import brute_force_maps
from tests.helpers.pruned import randomize_biases_and_norms

K = 3
N_IMAGES, BATCH = 10, 4


def _brute_force(adapter: ViTAdapter, dec: Decomposition, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Every column's score of every image ``[N, C]`` and its maps ``[N, C, 2, P]`` (float64)."""
    maps = brute_force_maps(adapter, dec.U, dec.V, dec.query_offset, list(images))
    scores, both = [], []
    for basis in ("faithful", "exact"):
        query, key = maps[f"{basis}_q"], maps[f"{basis}_k"]  # [N, L, H, M, P]
        signed = np.stack([query.max(-1) * key.max(-1), query.min(-1) * key.min(-1)], axis=-1)  # [N, L, H, M, 2]
        pos = np.stack([query, key], axis=-2)  # [N, L, H, M, 2 maps, P]
        scores.append(signed.reshape(len(images), -1))
        both.append(np.stack([pos, -pos], axis=4).reshape(len(images), -1, 2, pos.shape[-1]))
    return np.concatenate(scores, axis=1), np.concatenate(both, axis=1)


@pytest.mark.parametrize(
    ("compact", "window_layers", "candidate_bytes"),
    [(True, 1, None), (True, 1, 0), (False, 2, None), (False, 3, None)],
)
def test_top_k_and_maps_equal_brute_force(
    compact: bool, window_layers: int, candidate_bytes: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = load_model(
        "vit_tiny_patch16_224",
        random_init=True,
        seed=5,
        overrides={"depth": 3, "embed_dim": 48, "num_heads": 3, "img_size": 48},
    )
    randomize_biases_and_norms(adapter.module)
    adapter.module.eval()
    dec = decompose(adapter.weights())
    spec = adapter.spec
    # The window holds this many layers' maps: give merges the byte budget an accelerator would get for it.
    one_layer = 2 * BATCH * spec.n_patches * 2 * spec.n_heads * spec.d_head * 4
    monkeypatch.setattr(qkatlas.scoring, "merge_window_bytes", lambda _device: one_layer * window_layers)
    if candidate_bytes is not None:  # room for one (basis, layer) block only: a merge before each next one
        monkeypatch.setattr(qkatlas.scoring, "CANDIDATE_BYTES", candidate_bytes)
    scorer = TopKScorer(ModeKernel(adapter, dec, BASES))
    assert scorer._window_layers(BATCH) == window_layers
    topk = scorer.new_top_k(K, compact=compact)
    images = torch.randint(0, 256, (N_IMAGES, 3, 48, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    entered_rows: list[int] = []
    for start in range(0, N_IMAGES, BATCH):
        batch = images[start : start + BATCH]
        entered = scorer.score(batch, torch.arange(start, start + len(batch)), topk)
        entered_rows += (start + entered.nonzero().flatten()).tolist()

    expected_scores, expected_maps = _brute_force(adapter, dec, images)
    order = np.argsort(-expected_scores, axis=0, kind="stable")[:K].T  # [C, K]: ties to the lower index
    scores, indices, payload = topk.ranked()
    assert payload is not None
    np.testing.assert_array_equal(indices.numpy(), order)
    best = np.take_along_axis(expected_scores.T, order, axis=1)
    np.testing.assert_allclose(scores.numpy(), best, rtol=1e-4, atol=1e-6 * np.abs(best).max())
    columns = np.arange(scorer.n_columns)[:, None]
    want = expected_maps[order, columns]  # [C, K, 2, P]
    np.testing.assert_allclose(payload.float().numpy(), want, rtol=0, atol=2e-3 * np.abs(want).max())
    assert set(order.flatten().tolist()) <= set(entered_rows)  # every winner's thumbnail gets written


def test_winners_maps_are_copied_alike_from_the_kernels_layout_and_any_other() -> None:
    """``ProjectedLayer.write_maps`` copies whole token rows from the kernel's ``[H, M, B, N]`` buffers and
    indexes any other layout: both give each mode's map, offset added, sign applied."""
    generator = torch.Generator().manual_seed(2)
    n_images, n_tokens, n_heads, n_modes, n_prefix = 3, 7, 2, 4, 1
    buffers = torch.randn(2, n_heads, n_modes, n_images, n_tokens, generator=generator)
    kernel_layout = [side.permute(2, 3, 0, 1)[:, n_prefix:] for side in buffers]  # [B, P, H, M] views
    offsets = torch.randn(2, n_heads, n_modes, generator=generator)
    rows, heads, modes = torch.tensor([0, 2, 1, 2]), torch.tensor([1, 0, 1, 1]), torch.tensor([3, 0, 2, 3])
    flip = torch.tensor([1.0, -1.0, -1.0, 1.0])
    expected = torch.stack(
        [(maps[rows, :, heads, modes] + offset[heads, modes].unsqueeze(1)) * flip.unsqueeze(1)
         for maps, offset in zip(kernel_layout, offsets, strict=True)],
        dim=1,
    )  # fmt: skip
    for query, key in (kernel_layout, [maps.contiguous() for maps in kernel_layout]):
        scores = torch.zeros(n_images, n_heads, n_modes, 2)
        projected = ProjectedLayer(0, Basis.exact, query, query, key, offsets[0], offsets[1], scores, scores > 0)
        out = torch.empty(len(rows), 2, n_tokens - n_prefix)
        projected.write_maps(out, rows, heads, modes, flip)
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
