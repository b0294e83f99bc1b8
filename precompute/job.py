"""The precompute job: weights → SVD → stream images → running top-K → winners' maps → atlas.

Phase 1 streams every image once through the model with hooks on every block; each hook projects the
block's tokens onto all heads' modes with one matmul per basis and merges the batch's scores into a
running top-K that lives on the device. Memory is flat in the number of images. The job checkpoints
the (small) top-K state as it goes; ``resume`` continues from the last checkpoint and, because the
ranking is a pure function of the scores seen, reproduces the uninterrupted result.
Phase 2 takes a second look at the winning images only, storing their maps and thumbnails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from qkatlas.atlas import AtlasWriter
from qkatlas.atlas import format as fmt
from qkatlas.images import Batch, ImageSource, iter_batches, open_image_source
from qkatlas.models import load_model, model_slug, model_source
from qkatlas.models.base import ViTAdapter
from qkatlas.projection import BASES, Basis, ModeProjector, signed_scores
from qkatlas.svd import DEGENERACY_RTOL, SIGN_RULE, Decomposition, decompose, summarize
from qkatlas.topk import RunningTopK

CHECKPOINT = "checkpoint.pt"

#: ``(phase, done, total)`` — phase is ``"stream"`` or ``"maps"``; used for Redis progress reports.
ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class JobConfig:
    model_id: str
    images: str
    out: Path
    top_k: int = 16
    batch_size: int = 64
    device: str = "auto"
    workers: int = 0
    limit: int | None = None
    resume: bool = False
    random_init: bool = False
    seed: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    dataset_name: str | None = None
    bases: tuple[Basis, ...] = BASES
    checkpoint_every_s: float = 30.0
    show_progress: bool = True


@dataclass
class JobResult:
    atlas_dir: Path
    n_images: int
    n_skipped: int
    skipped: list[dict[str, Any]]
    wall_seconds: float
    images_per_second: float


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was requested but no CUDA device is available")
    return torch.device(name)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[None]:
    """bf16 autocast on CUDA; full fp32 on the CPU (DESIGN §4)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _versions() -> dict[str, str]:
    versions = {}
    for package in ("qkatlas", "torch", "timm", "transformers", "numpy", "pillow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


class ModeScorer:
    """Runs batches through the model and returns every signed mode's score per image.

    Scores have shape ``[B, n_bases, L, D, 2]`` (``D = H·M``), which flattens to the top-K's columns
    in the atlas order ``(basis, layer, head, mode, sign)``.
    """

    def __init__(self, adapter: ViTAdapter, dec: Decomposition, bases: tuple[Basis, ...]) -> None:
        self.adapter = adapter
        self.bases = bases
        self.device = adapter.device
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        self.projector = ModeProjector(dec, self.device, dtype)
        self.n_prefix = adapter.spec.n_prefix

    def _projections(
        self, images: torch.Tensor, on_layer: Callable[[int, int, torch.Tensor, torch.Tensor], None]
    ) -> None:
        """Calls ``on_layer(layer, basis_index, P_U, P_V)`` with patch-token maps ``[B, P, D]``."""

        def project(layer: int, residual: torch.Tensor, normed: torch.Tensor) -> None:
            for basis_index, basis in enumerate(self.bases):
                tokens = residual if basis == "faithful" else normed
                query, key = self.projector.project(layer, tokens[:, self.n_prefix :], basis)
                on_layer(layer, basis_index, query, key)

        pixels = self.adapter.normalize(images.to(self.device, non_blocking=True))
        with _autocast(self.device):
            self.adapter.run_with_capture(pixels, project)

    def scores(self, images: torch.Tensor) -> torch.Tensor:
        """``images``: uint8 ``[B, 3, S, S]`` → scores ``[B, n_bases · L · D · 2]``."""
        n_layers, n_columns = self.projector.n_layers, self.projector.n_columns
        out = torch.empty(len(images), len(self.bases), n_layers, n_columns, 2, device=self.device)

        def store(layer: int, basis_index: int, query: torch.Tensor, key: torch.Tensor) -> None:
            out[:, basis_index, layer] = signed_scores(query, key)

        self._projections(images, store)
        return out.flatten(1)

    def write_maps(
        self,
        batch: Batch,
        winners: torch.Tensor,
        lookup: torch.Tensor,
        maps_query: np.ndarray,
        maps_key: np.ndarray,
    ) -> None:
        """Store the maps of every top-K entry whose image is in ``batch``.

        ``winners: [n_bases, L, D, 2, K]`` dataset indices; ``lookup``: dataset index → row in the
        batch (or -1); ``maps_*``: ``[n_bases, L, D, 2, K, P]`` views of the atlas arrays.
        """
        signs = torch.tensor([1.0, -1.0], device=self.device)

        def store(layer: int, basis_index: int, query: torch.Tensor, key: torch.Tensor) -> None:
            entries = winners[basis_index, layer]  # [D, 2, K]
            rows = torch.where(entries >= 0, lookup[entries.clamp(min=0)], -1)
            column, sign, rank = (rows >= 0).nonzero(as_tuple=True)
            if len(column) == 0:
                return
            image_rows = rows[column, sign, rank]
            flip = signs[sign].unsqueeze(1)  # the neg mode's maps are the negated pos maps
            at = (basis_index, layer, column.cpu().numpy(), sign.cpu().numpy(), rank.cpu().numpy())
            maps_query[at] = (query[image_rows, :, column] * flip).half().cpu().numpy()
            maps_key[at] = (key[image_rows, :, column] * flip).half().cpu().numpy()

        self._projections(batch.images, store)


def _fingerprint(config: JobConfig, source: ImageSource, adapter: ViTAdapter) -> dict[str, Any]:
    """What must match for a checkpoint to be resumed."""
    return {
        "model_source": model_source(adapter),
        "images": [item.source for item in source.items],
        "batch_size": config.batch_size,
        "top_k": config.top_k,
        "bases": list(config.bases),
    }


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    state: dict[str, Any] = torch.load(path, weights_only=False)
    if state["fingerprint"] != fingerprint:
        raise RuntimeError(
            f"the checkpoint in {path.parent} was made with different settings (model, images, batch size, "
            "top-k or bases); rerun without --resume to start over"
        )
    return state


@contextlib.contextmanager
def _progress(config: JobConfig, total: int, initial: int, desc: str) -> Iterator[tqdm]:
    bar = tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="img",
        dynamic_ncols=True,
        disable=not config.show_progress,
    )
    try:
        yield bar
    finally:
        bar.close()


def run_job(config: JobConfig, on_progress: ProgressFn | None = None) -> JobResult:
    """Build (or resume) one atlas. Raises ``ValueError``/``RuntimeError`` with a clear message."""
    started = datetime.now(UTC)
    clock = time.perf_counter()
    source = open_image_source(config.images, name=config.dataset_name, limit=config.limit)
    device = resolve_device(config.device)
    adapter = load_model(
        config.model_id, random_init=config.random_init, seed=config.seed, overrides=config.overrides or None
    ).to(device)
    adapter.module.eval()
    dec = decompose(adapter.weights())
    spec = adapter.spec
    slug = fmt.atlas_slug(model_slug(config.model_id), source.name)
    partial = config.out / fmt.PARTIAL_DIR / slug
    fingerprint = _fingerprint(config, source, adapter)
    state = _load_checkpoint(partial / CHECKPOINT, fingerprint) if config.resume else None
    if state is None and partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)

    n_items, n_bases, n_columns = len(source.items), len(config.bases), spec.n_heads * spec.d_head
    scorer = ModeScorer(adapter, dec, config.bases)
    topk = RunningTopK(n_bases * spec.n_layers * n_columns * 2, config.top_k, device)
    position, skipped = 0, []
    if state is not None:
        topk.load_state_dict(state["topk"])
        position, skipped = state["position"], state["skipped"]

    # Phase 1: stream every image once.
    last_checkpoint = time.monotonic()
    stream_clock, start_position = time.perf_counter(), position
    with _progress(config, n_items, position, "scoring") as bar:
        for batch in iter_batches(
            source,
            adapter.preprocessing,
            batch_size=config.batch_size,
            workers=config.workers,
            start=position,
        ):
            if len(batch.indices):
                topk.update(scorer.scores(batch.images), batch.indices)
            skipped.extend({"index": i, "source": s, "reason": r} for i, s, r in batch.skipped)
            consumed = min(config.batch_size, n_items - position)
            position += consumed
            bar.update(consumed)
            if on_progress:
                on_progress("stream", position, n_items)
            if time.monotonic() - last_checkpoint >= config.checkpoint_every_s:
                state = {
                    "fingerprint": fingerprint,
                    "topk": topk.state_dict(),
                    "position": position,
                    "skipped": skipped,
                }
                _save_checkpoint(partial / CHECKPOINT, state)
                last_checkpoint = time.monotonic()
    stream_seconds = time.perf_counter() - stream_clock
    state = {"fingerprint": fingerprint, "topk": topk.state_dict(), "position": position, "skipped": skipped}
    _save_checkpoint(partial / CHECKPOINT, state)
    n_decoded = n_items - len(skipped)
    if n_decoded == 0:
        raise RuntimeError(f"none of the {n_items} images in {config.images} could be decoded")

    # Phase 2: a second look at the winners only, for their maps and thumbnails.
    writer = AtlasWriter(partial)
    ranked_shape = (n_bases, spec.n_layers, spec.n_heads, spec.d_head, 2, config.top_k)
    winners = topk.indices.view(n_bases, spec.n_layers, n_columns, 2, config.top_k)
    maps_query, maps_key = writer.open_maps((*ranked_shape, spec.grid, spec.grid))
    flat_shape = (n_bases, spec.n_layers, n_columns, 2, config.top_k, spec.n_patches)
    maps_query_flat, maps_key_flat = maps_query.reshape(flat_shape), maps_key.reshape(flat_shape)
    winner_ids = torch.unique(winners[winners >= 0]).cpu().tolist()
    lookup = torch.full((n_items,), -1, dtype=torch.int64, device=device)
    with _progress(config, len(winner_ids), 0, "winners' maps") as bar:
        for batch in iter_batches(
            source,
            adapter.preprocessing,
            batch_size=config.batch_size,
            workers=config.workers,
            indices=winner_ids,
        ):
            if batch.skipped:
                index, name, reason = batch.skipped[0]
                raise RuntimeError(f"image {name} decoded in the first pass but not now ({reason}); was it changed?")
            rows = batch.indices.to(device)
            lookup[rows] = torch.arange(len(rows), device=device)
            scorer.write_maps(batch, winners, lookup, maps_query_flat, maps_key_flat)
            lookup[rows] = -1
            for index, image in zip(batch.indices.tolist(), batch.images, strict=True):
                writer.write_thumbnail(index, image.permute(1, 2, 0).numpy())
            bar.update(len(rows))
            if on_progress:
                on_progress("maps", bar.n, len(winner_ids))
    maps_query.flush()
    maps_key.flush()
    del maps_query, maps_key, maps_query_flat, maps_key_flat

    writer.write_decomposition(dec)
    writer.write_topk(
        topk.indices.view(ranked_shape).cpu().numpy(), topk.scores.view(ranked_shape).float().cpu().numpy()
    )
    writer.write_json(fmt.SUMMARY, summarize(dec))
    items = source.items
    writer.write_json(fmt.IMAGES, {str(i): {"source": items[i].source, "label": items[i].label} for i in winner_ids})
    (partial / CHECKPOINT).unlink()
    wall = time.perf_counter() - clock
    rate = (n_items - start_position) / stream_seconds if stream_seconds > 0 else 0.0
    manifest = {
        "format_version": fmt.FORMAT_VERSION,
        "slug": slug,
        "model_slug": model_slug(config.model_id),
        "model": spec.to_dict(),
        "model_source": model_source(adapter),
        "preprocessing": adapter.preprocessing.to_dict(),
        "bases": list(config.bases),
        "signs": ["pos", "neg"],
        "scoring": {"rule": "paper", "pos": "max P_U * max P_V", "neg": "min P_U * min P_V"},
        "sign_rule": SIGN_RULE,
        "degeneracy_rtol": DEGENERACY_RTOL,
        "top_k": config.top_k,
        "dataset": {
            "name": source.name,
            "source": str(source.root),
            "layout": source.layout,
            "n_images": n_items,
            "n_skipped": len(skipped),
        },
        "skipped": skipped,
        "run": {
            "device": str(device),
            "dtype": "bfloat16" if device.type == "cuda" else "float32",
            "batch_size": config.batch_size,
            "workers": config.workers,
            "started": started.isoformat(),
            "finished": datetime.now(UTC).isoformat(),
            "wall_seconds": wall,
            "images_per_second": rate,
            "resumed": config.resume,
        },
        "versions": _versions(),
    }
    final = writer.publish(manifest, config.out / slug)
    return JobResult(final, n_items, len(skipped), skipped, wall, rate)
