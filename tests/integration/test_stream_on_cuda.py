"""On a GPU the stream waits for the device once per batch: when the caller fetches the entered rows.

Runs where CUDA is present (it is skipped on CPU-only machines; ``tests/unit/test_topk.py`` pins the
same structure there by refusing every host read inside a merge).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from precompute.background import BackgroundWriter
from precompute.checkpoint import JobFingerprint, checkpoint_name
from precompute.model_stream import ModelStream
from qkatlas.conventions import BASES
from qkatlas.images import Batch
from qkatlas.mode_statistics import HistogramBins, RunningStatistics
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

    statistics = RunningStatistics(HistogramBins.from_calibration(scorer.scores(batch(0)[0])[0]), 5, "cuda")
    classes = torch.tensor([0, 1, -1, 2, 3, 4, 0, -1], device="cuda")
    scorer.score(*batch(0), topk, statistics, classes).cpu()  # first use: allocations may synchronize
    torch.cuda.synchronize()
    for first in (8, 16):
        images, indices = batch(first)
        torch.cuda.set_sync_debug_mode("error")
        try:
            entered = scorer.score(images, indices, topk, statistics, classes)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert entered.device.type == "cuda" and entered.shape == (8,)
        entered.cpu()  # the batch's one synchronization
    held = set(topk.indices.flatten().tolist())
    assert held <= set(range(24)) and len(held) > 0
    distribution = statistics.distribution
    assert (distribution.count == 24).all() and distribution.histogram.sum(1).eq(24).all()
    assert statistics.class_count.tolist() == [6, 3, 3, 3, 3]  # 8 images a batch, 2 unlabelled


#: The stream below takes no checkpoint: what its fingerprint says does not matter.
_NO_CHECKPOINTS = JobFingerprint(
    statistics=None,
    effects=None,
    decoder="nvjpeg",
    precision="bf16",
    model_source={},
    images_sha256="",
    batch_size=8,
    top_k=4,
    bases=(),
    world_size=1,
)


@needs_cuda
def test_a_models_batch_with_images_on_the_gpu_synchronizes_once(tmp_path: Path) -> None:
    """The job's per-model step with images decoded on the GPU (nvJPEG delivers them there): scoring,
    fetching the entered rows and queueing their thumbnails wait for the device once; the thumbnails
    written are the images' pixels."""
    overrides = {"depth": 2, "embed_dim": 48, "num_heads": 3, "img_size": 64}
    adapter = load_model("vit_tiny_patch16_224", random_init=True, overrides=overrides).to("cuda")
    adapter.module.eval()
    dec = decompose(adapter.weights())
    with BackgroundWriter("hint") as background:
        stream = ModelStream.open(
            model_id="tiny", slug="tiny", adapter=adapter, dec=dec, view=0, partial=tmp_path / "partial",
            checkpoint_name=checkpoint_name(0, 1), fingerprint=_NO_CHECKPOINTS,
            scorer=TopKScorer(ModeKernel(adapter, dec, BASES)),
            top_k=4, state=None, class_of=torch.arange(24, device="cuda") % 3,
        )  # fmt: skip
        stream.start_statistics(
            HistogramBins.from_calibration(
                stream.scorer.scores(torch.zeros((2, 3, 64, 64), dtype=torch.uint8, device="cuda"))[0]
            ),
            n_classes=3,
        )
        # Distinct 64×64 tiles of a photo: JPEG keeps each within 5 grey levels of itself while any two
        # differ by 15 or more on average, so a thumbnail of the wrong image fails the check below (noise
        # would not do: 4:2:0 chroma subsampling alone moves random pixels by about 46).
        photo = torch.from_numpy(skimage.data.astronaut()).permute(2, 0, 1)  # type: ignore[no-untyped-call]
        tiles = photo.unfold(1, 64, 64).unfold(2, 64, 64).permute(1, 2, 0, 3, 4).reshape(-1, 3, 64, 64)
        tiles = tiles[torch.randperm(len(tiles), generator=torch.Generator().manual_seed(0))]

        def on_gpu(first: int) -> Batch:
            return Batch(torch.arange(first, first + 8), tiles[first : first + 8].contiguous().cuda())

        batches = [on_gpu(first) for first in (0, 8, 16)]
        stream.score(batches[0], 8, background)  # first use: allocations may synchronize
        torch.cuda.synchronize()
        for batch in batches[1:]:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn")
                try:
                    stream.score(batch, 8, background)
                finally:
                    torch.cuda.set_sync_debug_mode("default")
            syncs = [w for w in caught if "synchroniz" in str(w.message).lower()]
            assert len(syncs) <= 1, [str(w.message) for w in syncs]
        background.flush()
    for batch in batches:
        for index, image in zip(batch.indices.tolist(), batch.images.cpu(), strict=True):
            if index in stream.thumbnails.written:
                written = np.asarray(Image.open(tmp_path / "partial" / "thumbs" / f"{index:08d}.jpg"))
                assert np.abs(written.astype(int) - image.permute(1, 2, 0).numpy()).mean() < 8  # JPEG q92
