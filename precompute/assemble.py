"""Assembling one model's atlas once its stream is done: the winners (top-K, maps), the statistics
(with the distribution samples), the effects (with their top images), the thumbnails of all three, the
decomposition, the image list and the manifest, published in one step.

Thumbnails are normally all written during the stream; the images scored by another node of a
distributed run are decoded again here (no model) to write theirs. The atlas's files are typed in
``qkatlas.atlas.contract``.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from precompute.checkpoint import CHECKPOINT_GLOB
from precompute.job_config import JobContext
from precompute.model_stream import ModelStream
from qkatlas.atlas.contract import (
    FORMAT_VERSION,
    AtlasManifest,
    DatasetRecord,
    EffectsInfo,
    ImageRecord,
    ModelInfo,
    RunInfo,
    SamplesInfo,
    ScoringRule,
    SkippedImage,
    StatisticsInfo,
    TiesInfo,
)
from qkatlas.conventions import SIGNS
from qkatlas.distribution_samples import N_BANDS, PER_BAND, sampling_rule
from qkatlas.images import iter_batches
from qkatlas.mode_effects import EFFECT_BINNING_RULE, EFFECT_DEFINITION
from qkatlas.mode_statistics import (
    BINNING_RULE,
    CLASS_MODES,
    N_BINS,
    SELECTIVITY_RULE,
    TOP_CLASSES,
    StatisticsSummary,
    rank_classes,
)
from qkatlas.models import model_slug, model_source
from qkatlas.summaries import summarize_decomposition
from qkatlas.svd import DEGENERACY_RTOL, SIGN_RULE
from qkatlas.ties import TIE_RULE


def write_atlas(context: JobContext, stream: ModelStream, skipped: list[SkippedImage], rate: float) -> Path:
    """Write ``stream``'s atlas (``skipped``: the images no process could decode; ``rate``: the job's
    scoring rate in images/s) and publish it under the job's output folder; return where."""
    config, source, writer = context.config, context.source, stream.writer
    summary = stream.statistics.summary() if stream.statistics is not None else None
    inactive = stream.scorer.layout.per_mode(~stream.dec.active)  # [C]: pruned or dead heads' columns
    winner_ids = _write_winners(context, stream, inactive)
    sample_ids = _sampled_images(summary, inactive)
    effects, effect_ids = _write_effects(stream)
    _write_thumbnails(context, stream, winner_ids | sample_ids | effect_ids)
    statistics = _write_statistics(context, stream, summary)
    writer.write_decomposition(stream.dec)
    writer.write_summary(summarize_decomposition(stream.dec))
    items, left_out = source.items, {entry.index for entry in skipped}
    writer.write_images(
        {i: ImageRecord(source=item.source, label=item.label) for i, item in enumerate(items) if i not in left_out}
    )
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
            precision=context.precision,
        ),
        versions=_versions(),
        statistics=statistics,
        effects=effects,
        ties=_ties_info(stream),
    )
    return writer.publish(manifest, config.out / stream.slug, discard=CHECKPOINT_GLOB)


def _ties_info(stream: ModelStream) -> TiesInfo:
    rounding = stream.rounding
    assert rounding is not None, "the job measures every stream's rounding before it streams"
    return TiesInfo(epsilon=rounding.epsilon, how=rounding.how, sample_images=rounding.sample_images, rule=TIE_RULE)


def _versions() -> dict[str, str]:
    versions = {}
    for package in ("qkatlas", "torch", "timm", "transformers", "numpy", "pillow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return versions


def _write_statistics(
    context: JobContext, stream: ModelStream, summary: StatisticsSummary | None
) -> StatisticsInfo | None:
    """Write the statistics' arrays (inactive modes' class rankings left out); return what they hold."""
    if stream.statistics is None or summary is None:
        return None
    classes, layout = context.classes, stream.scorer.layout
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
        samples=SamplesInfo(bands=N_BANDS, per_band=PER_BAND, rule=sampling_rule(N_BINS)),
    )


def _write_effects(stream: ModelStream) -> tuple[EffectsInfo, set[int]]:
    """Write the effects' arrays when the job measured them; return what they hold and the dataset indices
    of the images with the largest effects. An image whose effect is 0 (nothing moves: every image of an
    inactive mode) is not kept among them: its place there would only reflect the tie order."""
    running = stream.effects
    if running is None:
        return EffectsInfo(computed=False), set()
    summary = running.summary()
    summary.top_indices[~(summary.top_values > 0)] = -1
    stream.writer.write_effects(summary, stream.dec.sigma.shape)
    info = EffectsInfo(
        computed=True,
        definition=EFFECT_DEFINITION,
        top_images=running.top.k,
        n_bins=N_BINS,
        binning=EFFECT_BINNING_RULE,
        calibration_images=running.bins.calibration_images,
    )
    return info, {int(i) for i in np.unique(summary.top_indices[summary.top_indices >= 0])}


def _sampled_images(summary: StatisticsSummary | None, inactive: np.ndarray) -> set[int]:
    """The dataset indices of the distribution samples of the active columns (``inactive [C]`` bool),
    after clearing the inactive columns' samples in ``summary`` (their scores are all 0: no evidence)."""
    if summary is None:
        return set()
    samples = summary.samples
    samples.indices[inactive] = -1
    samples.scores[inactive] = np.nan
    samples.fires[inactive] = False
    return {int(i) for i in np.unique(samples.indices[samples.indices >= 0])}


def _write_winners(context: JobContext, stream: ModelStream, inactive: np.ndarray) -> set[int]:
    """Write the top-K and the winners' maps (``inactive [C]``: the columns of inactive modes, which get
    no winners); return the winners' dataset indices."""
    config, spec, writer, layout = context.config, stream.adapter.spec, stream.writer, stream.scorer.layout
    ranked_shape = (*layout.shape, config.top_k)
    scores, indices, payload = stream.topk.ranked()
    # Inactive modes (σ = 0: pruned or dead heads) score 0 for every image; they get no winners.
    indices = indices.masked_fill(torch.from_numpy(inactive).to(indices.device).unsqueeze(1), -1)
    assert payload is not None
    maps = payload.view(*ranked_shape, 2, spec.grid, spec.grid).cpu().numpy()
    writer.write_maps(maps[..., 0, :, :], maps[..., 1, :, :])
    runner_up = stream.topk.runner_up.view(layout.shape).cpu().numpy()
    writer.write_topk(
        indices.view(ranked_shape).cpu().numpy(), scores.view(ranked_shape).float().cpu().numpy(), runner_up
    )
    return {int(i) for i in torch.unique(indices[indices >= 0]).cpu().tolist()}


def _write_thumbnails(context: JobContext, stream: ModelStream, shown: set[int]) -> None:
    """Make the thumbnails of exactly the ``shown`` images: those scored by another node of a distributed
    run are decoded again here (no model), those of images no longer shown are removed."""
    config = context.config
    missing = sorted(shown - stream.thumbnails.written)
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
    stream.writer.remove_thumbnails_except(shown)
