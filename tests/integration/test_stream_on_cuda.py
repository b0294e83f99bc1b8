"""On a GPU the stream waits for the device once per batch: when the caller fetches the entered rows.

Runs where CUDA is present (it is skipped on CPU-only machines; ``tests/unit/test_topk.py`` pins the
same structure there by refusing every host read inside a merge).
"""

from __future__ import annotations

import pytest
import torch

from qkatlas.conventions import BASES
from qkatlas.models import load_model
from qkatlas.scoring import ModeKernel, TopKScorer
from qkatlas.svd import decompose

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@needs_cuda
def test_scoring_a_batch_never_synchronizes_with_the_host() -> None:
    overrides = {"depth": 2, "embed_dim": 48, "num_heads": 3, "img_size": 64}
    adapter = load_model("vit_tiny_patch16_224", random_init=True, overrides=overrides).to("cuda")
    adapter.module.eval()
    scorer = TopKScorer(ModeKernel(adapter, decompose(adapter.weights()), BASES))
    topk = scorer.new_top_k(4)
    assert topk.compact is False
    generator = torch.Generator().manual_seed(0)

    def batch(first: int) -> tuple[torch.Tensor, torch.Tensor]:  # as the job's loader delivers them: pinned
        images = torch.randint(0, 256, (8, 3, 64, 64), dtype=torch.uint8, generator=generator)
        return images.pin_memory(), torch.arange(first, first + 8).pin_memory()

    scorer.score(*batch(0), topk).cpu()  # first use: allocations and one-time constants may synchronize
    torch.cuda.synchronize()
    for first in (8, 16):
        images, indices = batch(first)
        torch.cuda.set_sync_debug_mode("error")
        try:
            entered = scorer.score(images, indices, topk)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert entered.device.type == "cuda" and entered.shape == (8,)
        entered.cpu()  # the batch's one synchronization
    held = set(topk.indices.flatten().tolist())
    assert held <= set(range(24)) and len(held) > 0
