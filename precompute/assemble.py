"""Assembling one model's atlas once its stream is done: the winners (top-K, maps, thumbnails), the
statistics, the decomposition and the manifest, published in one step.

Thumbnails are normally all written during the stream; the winners scored by another node of a
distributed run are decoded again here (no model) to write theirs. The atlas's files are typed in
``qkatlas.atlas.contract``.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import torch

from precompute.checkpoint import CHECKPOINT_GLOB
from precompute.job_config import JobContext
from precompute.model_stream import ModelStream
from qkatlas.atlas.contract import (
    FORMAT_VERSION,
    AtlasManifest,
    DatasetRecord,
    ImageRecord,
    ModelInfo,
    RunInfo,
    ScoringRule,
    SkippedImage,
    StatisticsInfo,
)
from qkatlas.conventions import SIGNS
from qkatlas.images import iter_batches
from qkatlas.mode_statistics import (
    BINNING_RULE,
    CLASS_MODES,
    N_BINS,
    SELECTIVITY_RULE,
    TOP_CLASSES,
    rank_classes,
)
from qkatlas.models import model_slug, model_source
from qkatlas.summaries import summarize_decomposition
from qkatlas.svd import DEGENERACY_RTOL, SIGN_RULE


def write_atlas(context: JobContext, stream: ModelStream, skipped: list[SkippedImage], rate: float) -> Path:
    """Write ``stream``'s atlas (``skipped``: the images no process could decode; ``rate``: the job's
    scoring rate in images/s) and publish it under the job's output folder; return where."""
    config, source, writer = context.config, context.source, stream.writer
    winner_ids = _write_winners(context, stream)
    statistics = _write_statistics(context, stream)
    writer.write_decomposition(stream.dec)
    writer.write_summary(summarize_decomposition(stream.dec))
    items = source.items
    writer.write_images({i: ImageRecord(source=items[i].source, label=items[i].label) for i in winner_ids})
    adapter = stream.adapter
    manifest = AtlasManifest(
        format_version=FORMAT_VERSION,
        slug=stream.slug,
        model_slug=model_slug(stream.model_id),
        model=ModelInfo.from_spec(adapter.spec),
        model_source=model_source(adapter),
        preprocessing=adapter.preprocessing,
        bases=config.bases,
        signs=SIGNS,
        scoring=ScoringRule(),
        sign_rule=SIGN_RULE,
        degeneracy_rtol=DEGENERACY_RTOL,
        top_k=config.top_k,
        dataset=DatasetRecord(
            name=source.name,
            source=str(source.root),
            layout=source.layout,
            n_images=len(items),
            n_skipped=len(skipped),
        ),
        skipped=tuple(skipped),
        run=RunInfo(
            device=str(context.device),
            dtype=str(stream.scorer.kernel.dtype).removeprefix("torch."),
            batch_size=config.batch_size,
            workers=config.workers,
            processes=context.shard.world,
            started=context.started.isoformat(),
            finished=datetime.now(UTC).isoformat(),
            wall_seconds=time.perf_counter() - context.start_clock,
            images_per_second=rate,
            resumed=config.resume,
            decoder=context.decoder,
        ),
        versions=_versions(),
        statistics=statistics,
    )
    return writer.publish(manifest, config.out / stream.slug, discard=CHECKPOINT_GLOB)


def _versions() -> dict[str, str]:
    versions = {}
    for package in ("qkatlas", "torch", "timm", "transformers", "numpy", "pillow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def _write_statistics(context: JobContext, stream: ModelStream) -> StatisticsInfo | None:
    """Write the statistics' arrays (inactive modes' class rankings left out); return what they hold."""
    if stream.statistics is None:
        return None
    classes, layout = context.classes, stream.scorer.layout
    summary = stream.statistics.summary()
    rankings = rank_classes(summary, layout.per_mode(stream.dec.active), layout) if classes else None
    stream.writer.write_statistics(summary, rankings, layout.shape)
    return StatisticsInfo(
        n_bins=N_BINS,
        binning=BINNING_RULE,
        calibration_images=stream.statistics.bins.calibration_images,
        classes=classes,
        top_classes=TOP_CLASSES if classes else 0,
        class_modes=CLASS_MODES if classes else 0,
        selectivity=SELECTIVITY_RULE,
    )


def _write_winners(context: JobContext, stream: ModelStream) -> list[int]:
    """Write the top-K, the winners' maps and thumbnails; return the winners' dataset indices."""
    config, spec, writer, layout = context.config, stream.adapter.spec, stream.writer, stream.scorer.layout
    ranked_shape = (*layout.shape, config.top_k)
    scores, indices, payload = stream.topk.ranked()
    # Inactive modes (σ = 0: pruned or dead heads) score 0 for every image; they get no winners.
    columns_inactive = torch.from_numpy(layout.per_mode(~stream.dec.active)).to(indices.device)  # [C]
    indices = indices.masked_fill(columns_inactive.unsqueeze(1), -1)
    winner_ids: list[int] = torch.unique(indices[indices >= 0]).cpu().tolist()
    missing = sorted(set(winner_ids) - stream.thumbnails.written)
    prep = stream.adapter.preprocessing
    for batch in iter_batches(
        context.source, prep, batch_size=config.batch_size, workers=config.workers, indices=missing
    ):
        if batch.skipped:
            _, name, reason = batch.skipped[0]
            raise RuntimeError(f"image {name} decoded when it was scored but not now ({reason}); was it changed?")
        stream.thumbnails.write(batch.indices.tolist(), batch.images)
        stream.thumbnails.written.update(batch.indices.tolist())
        if context.on_progress:
            done = len(set(missing) & stream.thumbnails.written)
            context.on_progress(stream.slug, "thumbnails", done, len(missing))
    writer.remove_thumbnails_except(set(winner_ids))
    assert payload is not None
    maps = payload.view(*ranked_shape, 2, spec.grid, spec.grid).cpu().numpy()
    writer.write_maps(maps[..., 0, :, :], maps[..., 1, :, :])
    writer.write_topk(indices.view(ranked_shape).cpu().numpy(), scores.view(ranked_shape).float().cpu().numpy())
    return winner_ids
