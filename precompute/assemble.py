"""Assembling one model's atlas once its stream is done: the winners (top-K, maps), the statistics
(with the distribution samples), the effects (with their top images), the thumbnails of all three, the
decomposition, the image list and the manifest, published in one step.

``gather_atlas`` takes what the atlas needs from the finished stream to the host (the part that uses
the device, on the job's main thread); ``write_atlas`` writes the files from that alone, so the job
runs it on its publishing thread while the next group of models streams.

Thumbnails are normally all written during the stream; the images scored by another node of a
distributed run are decoded again here (no model) to write theirs. The atlas's files are typed in
``qkatlas.atlas.contract``.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from precompute.checkpoint import CHECKPOINT_GLOB
from precompute.job_config import JobContext
from precompute.model_stream import ModelStream, Thumbnails
from qkatlas.atlas import AtlasWriter
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
from qkatlas.images.preprocessing import Preprocessing
from qkatlas.mode_effects import EFFECT_BINNING_RULE, EFFECT_DEFINITION, EffectsSummary
from qkatlas.mode_statistics import (
    BINNING_RULE,
    CLASS_MODES,
    N_BINS,
    SELECTIVITY_RULE,
    TOP_CLASSES,
    ClassRankings,
    StatisticsSummary,
    rank_classes,
)
from qkatlas.models import model_slug, model_source
from qkatlas.models.source import ModelSource
from qkatlas.summaries import summarize_decomposition
from qkatlas.svd import DEGENERACY_RTOL, SIGN_RULE, Decomposition
from qkatlas.ties import TIE_RULE


@dataclass
class AtlasParts:
    """A finished stream's atlas, on the host: everything ``write_atlas`` writes, taken from the stream by
    ``gather_atlas``. It holds nothing on the device, so the next group of models can stream while it
    is written (``maps [B, L, H, M, 2, K, 2, T, T]``: the query and key maps of every top-K slot)."""

    slug: str
    model_id: str
    writer: AtlasWriter
    thumbnails: Thumbnails
    dec: Decomposition
    model: ModelInfo
    model_source: ModelSource
    preprocessing: Preprocessing
    dtype: str
    skipped: list[SkippedImage]
    rate: float
    indices: np.ndarray
    scores: np.ndarray
    runner_up: np.ndarray
    maps: np.ndarray
    ties: TiesInfo
    shown: set[int]
    statistics: tuple[StatisticsSummary, ClassRankings | None, tuple[int, ...], StatisticsInfo] | None
    effects: tuple[EffectsSummary, EffectsInfo] | None


def gather_atlas(context: JobContext, stream: ModelStream, skipped: list[SkippedImage], rate: float) -> AtlasParts:
    """Take ``stream``'s atlas to the host (``skipped``: the images no process could decode; ``rate``: the
    job's scoring rate in images/s)."""
    summary = stream.statistics.summary() if stream.statistics is not None else None
    inactive = stream.scorer.layout.per_mode(~stream.dec.active)  # [C]: pruned or dead heads' columns
    indices, scores, runner_up, maps = _winners(context, stream, inactive)
    effects = _effects(stream)
    effect_ids = {int(i) for i in np.unique(effects[0].top_indices[effects[0].top_indices >= 0])} if effects else set()
    adapter = stream.adapter
    return AtlasParts(
        slug=stream.slug,
        model_id=stream.model_id,
        writer=stream.writer,
        thumbnails=stream.thumbnails,
        dec=stream.dec,
        model=ModelInfo.from_spec(adapter.spec),
        model_source=model_source(adapter),
        preprocessing=adapter.preprocessing,
        dtype=str(stream.scorer.kernel.dtype).removeprefix("torch."),
        skipped=skipped,
        rate=rate,
        indices=indices,
        scores=scores,
        runner_up=runner_up,
        maps=maps,
        ties=_ties_info(stream),
        shown={int(i) for i in np.unique(indices[indices >= 0])} | _sampled_images(summary, inactive) | effect_ids,
        statistics=_statistics(context, stream, summary),
        effects=effects,
    )


def write_atlas(context: JobContext, parts: AtlasParts) -> Path:
    """Write the atlas of ``parts`` and publish it under the job's output folder; return where. Touches
    neither the device nor the stream (the job runs it on its publishing thread)."""
    config, source, writer = context.config, context.source, parts.writer
    _write_thumbnails(context, parts)
    writer.write_winners(
        parts.indices, parts.scores, parts.runner_up, parts.maps[..., 0, :, :], parts.maps[..., 1, :, :]
    )
    statistics = None
    if parts.statistics is not None:
        summary, rankings, shape, statistics = parts.statistics
        writer.write_statistics(summary, rankings, shape)
    effects = EffectsInfo(computed=False)
    if parts.effects is not None:
        effects_summary, effects = parts.effects
        writer.write_effects(effects_summary, parts.dec.sigma.shape)
    writer.write_decomposition(parts.dec)
    writer.write_summary(summarize_decomposition(parts.dec))
    items, left_out = source.items, {entry.index for entry in parts.skipped}
    writer.write_images(
        {i: ImageRecord(source=item.source, label=item.label) for i, item in enumerate(items) if i not in left_out}
    )
    manifest = AtlasManifest(
        format_version=FORMAT_VERSION,
        slug=parts.slug,
        model_slug=model_slug(parts.model_id),
        model=parts.model,
        model_source=parts.model_source,
        preprocessing=parts.preprocessing,
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
            n_skipped=len(parts.skipped),
        ),
        skipped=tuple(parts.skipped),
        run=RunInfo(
            device=str(context.device),
            dtype=parts.dtype,
            batch_size=config.batch_size,
            workers=config.workers,
            processes=context.shard.world,
            started=context.started.isoformat(),
            finished=datetime.now(UTC).isoformat(),
            wall_seconds=time.perf_counter() - context.start_clock,
            images_per_second=parts.rate,
            resumed=config.resume,
            decoder=context.decoder,
            precision=context.precision,
        ),
        versions=_versions(),
        statistics=statistics,
        effects=effects,
        ties=parts.ties,
    )
    return writer.publish(manifest, config.out / parts.slug, discard=CHECKPOINT_GLOB)


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


def _statistics(
    context: JobContext, stream: ModelStream, summary: StatisticsSummary | None
) -> tuple[StatisticsSummary, ClassRankings | None, tuple[int, ...], StatisticsInfo] | None:
    """The statistics' arrays with the class rankings (inactive modes left out), the columns' shape and
    what they hold; ``None`` when the job keeps none."""
    if stream.statistics is None or summary is None:
        return None
    classes, layout = context.classes, stream.scorer.layout
    rankings = rank_classes(summary, layout.per_mode(stream.dec.active), layout) if classes else None
    info = StatisticsInfo(
        n_bins=N_BINS,
        binning=BINNING_RULE,
        calibration_images=stream.statistics.bins.calibration_images,
        classes=classes,
        top_classes=TOP_CLASSES if classes else 0,
        class_modes=CLASS_MODES if classes else 0,
        selectivity=SELECTIVITY_RULE,
        samples=SamplesInfo(bands=N_BANDS, per_band=PER_BAND, rule=sampling_rule(N_BINS)),
    )
    return summary, rankings, layout.shape, info


def _effects(stream: ModelStream) -> tuple[EffectsSummary, EffectsInfo] | None:
    """The effects' arrays and what they hold, when the job measured them. An image whose effect is 0
    (nothing moves: every image of an inactive mode) is not kept among a mode's top images: its place
    there would only reflect the tie order."""
    running = stream.effects
    if running is None:
        return None
    summary = running.summary()
    summary.top_indices[~(summary.top_values > 0)] = -1
    info = EffectsInfo(
        computed=True,
        definition=EFFECT_DEFINITION,
        top_images=running.top.k,
        n_bins=N_BINS,
        binning=EFFECT_BINNING_RULE,
        calibration_images=running.bins.calibration_images,
    )
    return summary, info


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


def _winners(
    context: JobContext, stream: ModelStream, inactive: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The top-K in ranking order, ``indices, scores [B, L, H, M, 2, K]``, each column's runner-up
    ``[B, L, H, M, 2]`` and the slots' maps ``[..., K, 2, T, T]`` on the host (``inactive [C]``: the
    columns of inactive modes, which get no winners)."""
    config, spec, layout = context.config, stream.adapter.spec, stream.scorer.layout
    ranked_shape = (*layout.shape, config.top_k)
    scores, indices, payload = stream.topk.ranked()
    # Inactive modes (σ = 0: pruned or dead heads) score 0 for every image; they get no winners.
    indices = indices.masked_fill(torch.from_numpy(inactive).to(indices.device).unsqueeze(1), -1)
    assert payload is not None
    maps = payload.view(*ranked_shape, 2, spec.grid, spec.grid).cpu().numpy()
    runner_up = stream.topk.runner_up.view(layout.shape).cpu().numpy()
    return (
        indices.view(ranked_shape).cpu().numpy(),
        scores.view(ranked_shape).float().cpu().numpy(),
        runner_up,
        maps,
    )


def _write_thumbnails(context: JobContext, parts: AtlasParts) -> None:
    """Make the thumbnails of exactly the images the atlas shows (winners, samples, top effects): those
    scored by another node of a distributed run are decoded again here (no model), those of images no
    longer shown are removed."""
    config, thumbnails, shown = context.config, parts.thumbnails, parts.shown
    missing = sorted(shown - thumbnails.written)
    for batch in iter_batches(
        context.source, parts.preprocessing, batch_size=config.batch_size, workers=config.workers, indices=missing
    ):
        if batch.skipped:
            _, name, reason = batch.skipped[0]
            raise RuntimeError(f"image {name} decoded when it was scored but not now ({reason}); was it changed?")
        thumbnails.write(batch.indices.tolist(), batch.images)
        thumbnails.written.update(batch.indices.tolist())
        if context.on_progress:
            done = len(set(missing) & thumbnails.written)
            context.on_progress(parts.slug, "thumbnails", done, len(missing))
    parts.writer.remove_thumbnails_except(shown)
