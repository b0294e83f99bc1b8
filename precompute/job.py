"""The precompute job: weights → SVD → stream images once → running top-K with the winners' maps → atlas.

A job builds the atlases of one or several models over one image collection. Every model is loaded and
decomposed before any image is read, so a model that cannot be loaded stops the job before any work.
The models are then planned into groups that fit the device together (``precompute.plan``); each
group streams the images once: every image is decoded once and handed to each model after that
model's own resize, crop and normalization (``qkatlas.images.iter_shared_batches``), so each atlas is
the one a single-model run would build.

Within the stream the scoring kernel (``qkatlas.scoring``) projects each block's tokens onto all heads'
modes with one matmul per basis, and ``TopKScorer`` merges the batch's scores into a running top-K
that lives on the device. Each top-K slot carries its image's query and key maps (float16), taken
from the projections that scored it, and an image's thumbnail is written when it first enters a
top-K, so the winners need no second pass. Memory is flat in the number of images. Thumbnails and
checkpoints are written by a background thread (``precompute.background``); ``resume`` continues
every unfinished model from its last checkpoint and, because the ranking is a pure function of the
scores seen, reproduces the uninterrupted result. Each atlas is published as soon as its group is done.

This module is orchestration only: loading and resume decisions are ``precompute.loading``, when to
checkpoint ``precompute.checkpoint_schedule``, the checkpoint file ``precompute.checkpoint``, and
writing each atlas ``precompute.assemble`` (its files are typed in ``qkatlas.atlas.contract``).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from precompute.assemble import AtlasParts, gather_atlas, write_atlas
from precompute.background import BackgroundWriter
from precompute.checkpoint import checkpoint_name, fingerprint
from precompute.checkpoint_schedule import CheckpointSchedule
from precompute.folder_lock import hold_output_folder
from precompute.job_config import JobConfig, JobContext
from precompute.loading import JobSetupError, LoadedModel, atlas_slugs, finished_atlas, load_all
from precompute.model_stream import ModelStream
from precompute.plan import describe_plan, device_memory_budget, estimate_memory, plan_groups
from precompute.shard import Shard, gather_effects, gather_statistics, gather_top_k
from qkatlas.atlas import format as fmt
from qkatlas.atlas.contract import (
    AtlasManifest,
    SkippedImage,
)
from qkatlas.conventions import Basis
from qkatlas.device import precision_dtype, precision_scope, resolve_precision
from qkatlas.errors import ActionableError
from qkatlas.images import (
    SharedBatch,
    iter_device_batches,
    iter_shared_batches,
    open_image_source,
    resolve_decode,
)
from qkatlas.images.preprocessing import Preprocessing
from qkatlas.mode_effects import EffectKernel, default_chunk
from qkatlas.mode_statistics import (
    CALIBRATION_IMAGES,
    HistogramBins,
)
from qkatlas.progress import ProgressSink
from qkatlas.scoring import ModeKernel, TopKScorer
from qkatlas.ties import analytic_rounding, measured_rounding

#: What every error that stops a job part-way ends with.
RESUME_HINT = "the last checkpoint is kept: free some space or fix the cause, then rerun with --resume"


@dataclass
class JobResult:
    """One model's atlas. ``kept``: an atlas finished by an earlier run of the job, left as it was."""

    model_id: str
    atlas_dir: Path
    n_images: int
    n_skipped: int
    skipped: list[SkippedImage]
    wall_seconds: float
    images_per_second: float
    kept: bool = False


@dataclass
class JobTimings:
    """Where a job's time went, in seconds, summed over its groups: ``setup`` loading, decomposing and
    planning; ``calibration`` scoring the statistics' calibration sample (and, below fp32, scoring it
    again in float32 to measure the precision's rounding: ``qkatlas.ties``); ``stream`` the scoring loop
    (its checkpoints included); ``drain`` waiting, after the stream, for the background writer to
    finish what was queued; ``finish`` merging the atlases and taking them to the host; ``publish_wait``
    waiting for the publishing thread, which writes and publishes each atlas while the next group
    streams: for room in its queue, and at the end for the last atlases. The background writer
    (thumbnails, checkpoints) was busy ``writer_busy`` seconds, using ``writer_cpu`` seconds of CPU
    (its thumbnail threads' included), and the stream waited ``writer_waited`` seconds for room in its
    queue; the publishing thread was busy ``publish`` seconds writing atlases. Only ``stream`` grows
    with the number of images.
    """

    setup: float = 0.0
    calibration: float = 0.0
    stream: float = 0.0
    drain: float = 0.0
    finish: float = 0.0
    publish_wait: float = 0.0
    writer_busy: float = 0.0
    writer_cpu: float = 0.0
    writer_waited: float = 0.0
    publish: float = 0.0


@dataclass
class JobOutcome:
    """What a job did: one result per model built or kept, the models it could not load, and where
    the time went."""

    results: list[JobResult]
    unloadable: dict[str, str]
    timings: JobTimings


class _Log:
    """Messages for the person running the job (rank 0 only), printed above any progress bar."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, message: str) -> None:
        if self.enabled:
            tqdm.write(message, file=sys.stderr)


def run_job(config: JobConfig, on_progress: ProgressSink | None = None) -> JobOutcome | None:
    """Build (or resume) the atlas of every model of ``config``. Raises ``FolderInUseError`` at once when
    another job writes into ``config.out`` (``FolderLockError`` when it cannot be locked:
    ``precompute.folder_lock``), ``JobSetupError`` before any work when a model cannot be loaded,
    ``ValueError``/``RuntimeError`` with a clear message otherwise.

    Under ``torchrun`` every rank scores its shard and rank 0 merges, writes and returns the outcome;
    the other ranks return ``None``.
    """
    clock, started = time.perf_counter(), datetime.now(UTC)
    if not config.models:
        raise JobSetupError("no model given")
    shard = Shard.from_environment()
    log = _Log(shard.is_main)
    device = shard.device(config.device)
    if shard.world > 1:
        import torch.distributed as dist

        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    held = contextlib.ExitStack()  # the output folder's lock, for the whole job
    try:
        _hold_output_folder(config.out, shard, device, held)
        source = open_image_source(config.images, name=config.dataset_name, limit=config.limit)
        slugs = atlas_slugs(config.models, source.name)
        models, unloadable = load_all(config, slugs, log)
        if not models:
            raise JobSetupError("none of the models could be loaded")
        if on_progress:
            slug_of = dict(zip(config.models, slugs, strict=True))
            for model_id, reason in unloadable.items():
                on_progress.model_finished(slug_of[model_id], "failed", f"could not be loaded: {reason}")
        precision = resolve_precision(config.precision, device)
        if config.precision == "tf32" and precision == "fp32":
            log("--precision tf32 on the CPU is fp32 (TF32 is a mode of CUDA's matmuls); the atlas records fp32")
        results: list[JobResult] = []
        todo: list[LoadedModel] = []
        for model in models:
            resumable = config.resume and not config.rebuild_finished
            finished = finished_atlas(config, model, source, precision) if resumable else None
            if finished is None:
                todo.append(model)
                continue
            atlas = config.out / model.slug
            log(f"keeping the finished atlas {atlas} (--rebuild-finished rebuilds it)")
            results.append(_kept_result(model.model_id, atlas, finished))
            if on_progress:
                on_progress.model_finished(model.slug, "done")
        dtype = precision_dtype(precision)
        n_classes = len(source.classes) if config.statistics else None
        needs = [
            estimate_memory(
                m.adapter,
                n_bases=len(config.bases),
                top_k=config.top_k,
                batch_size=config.batch_size,
                dtype=dtype,
                device=device,
                statistics_classes=n_classes,
                effects_chunk=default_chunk(device) if config.effects else None,
            )
            for m in todo
        ]
        budget = shard.smallest(config.device_memory or device_memory_budget(device), device)
        groups = plan_groups(needs, budget)
        timings = JobTimings(setup=time.perf_counter() - clock)
        if todo:
            log(describe_plan(groups, [m.model_id for m in todo], budget, device))
        decoder = resolve_decode(config.decode, device)
        if decoder == "nvjpeg" and todo:
            log(f"decoding JPEGs with nvJPEG on {device} (Pillow for the files it cannot read)")
        context = JobContext(
            config, source, shard, device, decoder, on_progress, precision, log, started, clock, len(todo)
        )
        job = _Job(context, timings)
        with job.progress_bar(), precision_scope(precision), job.publishing():
            for number, group in enumerate(groups, 1):
                job.run_group([todo[i] for i in group.members], number, len(groups))
        results.extend(job.results)
    finally:
        held.close()
        if shard.world > 1:
            dist.destroy_process_group()
    if not shard.is_main:
        return None
    by_model = {result.model_id: result for result in results}
    return JobOutcome([by_model[m] for m in config.models if m in by_model], unloadable, timings)


def _hold_output_folder(out: Path, shard: Shard, device: torch.device, held: contextlib.ExitStack) -> None:
    """Take ``out``'s lock into ``held`` (rank 0 under ``torchrun``). When it is refused, every rank
    raises the refusal, so that none is left waiting for rank 0 in a collective."""
    refusal: ActionableError | None = None
    if shard.is_main:
        try:
            held.enter_context(hold_output_folder(out))
        except ActionableError as error:
            refusal = error
    refusal = shard.object_from_main(refusal, device)
    if refusal is not None:
        raise refusal


def _kept_result(model_id: str, atlas: Path, manifest: AtlasManifest) -> JobResult:
    return JobResult(
        model_id=model_id,
        atlas_dir=atlas,
        n_images=manifest.dataset.n_images,
        n_skipped=manifest.dataset.n_skipped,
        skipped=list(manifest.skipped),
        wall_seconds=0.0,
        images_per_second=manifest.run.images_per_second,
        kept=True,
    )


class _Job:
    """The streaming part of a job: one shared stream per group of models, then each atlas."""

    def __init__(self, context: JobContext, timings: JobTimings) -> None:
        """The phases' seconds are added to ``timings``."""
        self.context, self.timings = context, timings
        self.config, self.source = context.config, context.source
        self.shard, self.device = context.shard, context.device
        self.on_progress, self.log = context.on_progress, context.log
        self.selection = context.shard.items(len(context.source.items), context.config.batch_size)
        self.bar: tqdm[Any] | None = None
        self.class_of = torch.tensor(self.source.class_ids(), device=self.device) if self.config.statistics else None
        self.results: list[JobResult] = []
        self._publisher: BackgroundWriter | None = None
        self._published: list[tuple[str, JobResult]] = []  # (slug, result) published, not yet reported
        self._published_lock = threading.Lock()

    @contextlib.contextmanager
    def publishing(self) -> Iterator[None]:
        """The publishing thread (rank 0): each finished group's atlases are written and published on it,
        one at a time, while the next group streams. Leaving waits for the last and raises the first
        failure (a full disk: ``DiskFullError``, the checkpoints kept for ``--resume``)."""
        if not self.shard.is_main:
            yield
            return
        # One atlas waits while another is written: the host holds at most two groups' atlases.
        publisher = BackgroundWriter(RESUME_HINT, max_pending=1, folder=self.config.out)
        self._publisher = publisher
        failed = True
        try:
            yield
            failed = False
        finally:
            clock = time.perf_counter()
            publisher.close(raise_error=not failed)
            self.timings.publish_wait += time.perf_counter() - clock
            self.timings.publish = publisher.busy_seconds
            self._report_published()

    def _publish(self, parts: AtlasParts) -> None:
        """Write and publish one atlas (publishing thread)."""
        final = write_atlas(self.context, parts)
        self.log(f"published {final}")
        n_items = len(self.source.items)
        result = JobResult(
            model_id=parts.model_id,
            atlas_dir=final,
            n_images=n_items,
            n_skipped=len(parts.skipped),
            skipped=parts.skipped,
            wall_seconds=time.perf_counter() - self.context.start_clock,
            images_per_second=parts.rate,
        )
        with self._published_lock:
            self._published.append((parts.slug, result))

    def _report_published(self) -> None:
        """Record the atlases published since the last call and report them done (main thread)."""
        with self._published_lock:
            published, self._published = self._published, []
        for slug, result in published:
            self.results.append(result)
            if self.on_progress:
                self.on_progress.model_finished(slug, "done")

    @contextlib.contextmanager
    def progress_bar(self) -> Iterator[None]:
        """One bar for the whole job: images × models, so its rate and ETA are the job's."""
        what = "scoring" if self.context.n_models == 1 else f"scoring ({self.context.n_models} models, images × models)"
        with tqdm(
            total=len(self.selection) * self.context.n_models,
            desc=what,
            unit="img",
            dynamic_ncols=True,
            disable=not (self.config.show_progress and self.shard.is_main),
        ) as bar:
            self.bar = bar
            yield

    def run_group(self, members: list[LoadedModel], number: int, n_groups: int) -> None:
        """Stream the images once for ``members``, then hand each atlas to the publishing thread."""
        preps: list[Preprocessing] = []
        for model in members:
            model.adapter.to(self.device)
            if model.adapter.preprocessing not in preps:
                preps.append(model.adapter.preprocessing)
        streams = self._open_all(members, preps)
        timings, clock = self.timings, time.perf_counter()
        self._calibrate([stream for stream in streams if self._uncalibrated(stream)], preps)
        self._measure_rounding(streams, preps)
        timings.calibration += time.perf_counter() - clock
        if n_groups > 1:
            self.log(f"group {number}/{n_groups}: {', '.join(model.model_id for model in members)}")
        with BackgroundWriter(RESUME_HINT, folder=self.config.out) as background:
            clock = time.perf_counter()
            rates = self._stream(streams, preps, background)
            timings.stream += time.perf_counter() - clock
            clock = time.perf_counter()
            background.flush()
            timings.drain += time.perf_counter() - clock
        timings.writer_busy += background.busy_seconds
        timings.writer_cpu += background.cpu_seconds + sum(stream.writer.pool_cpu_seconds for stream in streams)
        timings.writer_waited += background.waited_seconds
        clock = time.perf_counter()
        finished = []
        for stream, rate in zip(streams, rates, strict=True):
            finished.append(self._finish(stream, rate))
        del streams  # their device state: the next group needs the device
        timings.finish += time.perf_counter() - clock
        for model in members:
            model.adapter.to("cpu")
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        for parts in finished:
            if parts is not None:
                self._submit(parts)
        self._report_published()

    def _submit(self, parts: AtlasParts) -> None:
        """Queue ``parts`` on the publishing thread (waiting while another atlas is queued)."""
        assert self._publisher is not None
        clock = time.perf_counter()
        self._publisher.submit(self._publish, parts, what=f"the atlas {parts.slug}")
        self.timings.publish_wait += time.perf_counter() - clock

    def _open_all(self, members: list[LoadedModel], preps: list[Preprocessing]) -> list[ModelStream]:
        """Each model's stream, from its checkpoint when resuming."""
        config, shard = self.config, self.shard
        checkpoint = checkpoint_name(shard.rank, shard.world)
        partials = [config.out / fmt.PARTIAL_DIR / model.slug for model in members]
        fingerprints = [
            fingerprint(
                model.adapter,
                self.source,
                batch_size=config.batch_size,
                top_k=config.top_k,
                bases=config.bases,
                world=shard.world,
                decoder=self.context.decoder,
                precision=self.context.precision,
                statistics=config.statistics,
                effects=config.effects,
            )
            for model in members
        ]
        states = [
            ModelStream.resume_state(
                partial, checkpoint, model_fingerprint, resume=config.resume, is_main=shard.is_main
            )
            for partial, model_fingerprint in zip(partials, fingerprints, strict=True)
        ]
        shard.barrier()  # rank 0 has cleared what an earlier run left before any rank writes
        dtype = precision_dtype(self.context.precision)
        kernels = [ModeKernel(model.adapter, model.dec, config.bases, dtype) for model in members]
        if Basis.exact in config.bases:
            for model, kernel in zip(members, kernels, strict=True):
                self.log(f"{model.model_id}: exact basis {kernel.projector.qk_route_summary()}")
        return [
            ModelStream.open(
                model_id=model.model_id,
                slug=model.slug,
                adapter=model.adapter,
                dec=model.dec,
                view=preps.index(model.adapter.preprocessing),
                partial=partial,
                checkpoint_name=checkpoint,
                fingerprint=model_fingerprint,
                scorer=TopKScorer(kernel, EffectKernel(model.adapter, model.dec) if config.effects else None),
                top_k=config.top_k,
                state=state,
                class_of=self.class_of,
            )
            for model, partial, model_fingerprint, state, kernel in zip(
                members, partials, fingerprints, states, kernels, strict=True
            )
        ]

    def _uncalibrated(self, stream: ModelStream) -> bool:
        """The job keeps statistics or effects that ``stream`` has not started (nor resumed) yet."""
        return (self.config.statistics and stream.statistics is None) or (
            self.config.effects and stream.effects is None
        )

    def _calibrate(self, streams: list[ModelStream], preps: list[Preprocessing]) -> None:
        """Fix the histogram bins of the statistics and of the effects of ``streams`` from the calibration
        sample, the first ``CALIBRATION_IMAGES`` images of the dataset (docs/method.md#per-mode-statistics).
        Every process scores the same sample; under ``torchrun`` the main process's bins are then shared,
        so that every rank bins identically and the histograms add up exactly."""
        if not streams:
            return
        sample = list(range(min(CALIBRATION_IMAGES, len(self.source.items))))
        self.log(f"calibrating the histogram bins on the first {len(sample)} images")
        parts: list[list[torch.Tensor]] = [[] for _ in streams]
        moved: list[list[torch.Tensor]] = [[] for _ in streams]
        for shared in self._batches(preps, sample, 0):
            for stream, scores, effects in zip(streams, parts, moved, strict=True):
                batch = shared.views[stream.view]
                if len(batch):
                    batch_scores, batch_effects = stream.scorer.calibration_sample(batch.images)
                    scores.append(batch_scores)
                    if batch_effects is not None:
                        effects.append(batch_effects)
        for stream, scores, effects in zip(streams, parts, moved, strict=True):
            if self.config.statistics and stream.statistics is None:
                stream.start_statistics(self._bins(scores, stream.scorer.n_columns), len(self.context.classes))
            if stream.scorer.effects is not None and stream.effects is None:
                stream.start_effects(self._bins(effects, stream.scorer.effects.n_columns))

    def _measure_rounding(self, streams: list[ModelStream], preps: list[Preprocessing]) -> None:
        """Set every stream's ``rounding``: for fp32 its analytic bound; for bf16 and tf32 measured on the
        calibration sample, scored once more in float32 at full precision (``qkatlas.ties``; on every
        resume too, as it is not checkpointed). Under ``torchrun`` the main process's value is shared."""
        precision = self.context.precision
        if precision == "fp32":
            for stream in streams:
                stream.rounding = analytic_rounding(stream.adapter.spec.d_model)
            return
        sample = list(range(min(CALIBRATION_IMAGES, len(self.source.items))))
        self.log(f"measuring the rounding of {precision} scores against float32 on the first {len(sample)} images")
        batches = list(self._batches(preps, sample, 0))  # decoded once for every model (~40 MB a view at 224 px)
        for stream in streams:
            # One float32 projector at a time: a group's models together would need their memory twice.
            reference = TopKScorer(ModeKernel(stream.adapter, stream.dec, self.config.bases, torch.float32))
            scored, exact = [], []
            for shared in batches:
                images = shared.views[stream.view].images
                if len(images):
                    scored.append(stream.scorer.scores(images)[0])
                    with precision_scope("fp32"):
                        exact.append(reference.scores(images)[0])
            del reference
            empty = torch.empty((0, stream.scorer.n_columns), device=self.device)
            rounding = measured_rounding(
                precision, torch.cat(scored) if scored else empty, torch.cat(exact) if exact else empty
            )
            stream.rounding = self.shard.object_from_main(rounding, self.device)

    def _bins(self, parts: list[torch.Tensor], n_columns: int) -> HistogramBins:
        """The bins calibrated on the sample's values ``parts`` (batches of ``[b, n_columns]``), the main
        process's on every rank."""
        sample = torch.cat(parts) if parts else torch.empty((0, n_columns), device=self.device)
        return self.shard.share_from_main(HistogramBins.from_calibration(sample), self.device)

    def _stream(
        self, streams: list[ModelStream], preps: list[Preprocessing], background: BackgroundWriter
    ) -> list[float]:
        """Score the images from the earliest resume point on, with periodic checkpoints; return each
        model's scoring rate (images/s of this session's stream).

        No checkpoint is taken at the end: the atlases are written next, and a crash while writing them
        resumes from the last periodic one (at the paper's scale the last checkpoint would cost as much
        disk time as the atlases themselves)."""
        config, n_selected = self.config, len(self.selection)
        position = min(stream.position for stream in streams)
        self._advance_bar(sum(stream.position for stream in streams), resumed=True)
        clock = time.perf_counter()
        schedule = CheckpointSchedule(config.checkpoint_every_s)
        for shared in self._batches(preps, self.selection, position):
            consumed = min(config.batch_size, n_selected - position)
            behind = [stream for stream in streams if stream.position == position]
            for stream in behind:
                stream.score(shared.views[stream.view], consumed, background)
                if self.on_progress and self.shard.is_main:
                    self.on_progress(stream.slug, "stream", stream.position, n_selected)
            position += consumed
            self._advance_bar(consumed * len(behind))
            if schedule.due(writing=any(stream.saving for stream in streams)):
                with schedule.taking():
                    for stream in streams:
                        stream.save(background, schedule)
        seconds = time.perf_counter() - clock
        return [stream.scored_images / seconds if seconds > 0 else 0.0 for stream in streams]

    def _advance_bar(self, images: int, resumed: bool = False) -> None:
        """Move the job's bar on by ``images`` (``resumed``: covered by the checkpoints, not part of this
        session's rate), and close it once every image of every model is scored. Its last step is not
        drawn before closing, which draws the finished bar: drawn once, it is not drawn again below the
        messages that follow (publishing), nor twice in a log that keeps every redraw (Compose, CI)."""
        bar = self.bar
        if bar is None or bar.disable:
            return
        if bar.total is not None and bar.n + images >= bar.total:
            bar.n += images
            bar.close()
        elif resumed:
            bar.n += images
            bar.last_print_n = bar.n
            bar.refresh()
        elif images:
            bar.update(images)

    def _batches(self, preps: list[Preprocessing], indices: list[int], start: int) -> Iterator[SharedBatch]:
        """The images ``indices`` from position ``start`` on, decoded once for every preprocessing of ``preps``."""
        config = self.config
        if self.context.decoder == "nvjpeg":
            return iter_device_batches(
                self.source,
                preps,
                batch_size=config.batch_size,
                device=self.device,
                indices=indices,
                start=start,
                read_workers=max(config.workers, 1),
            )
        return iter_shared_batches(
            self.source,
            preps,
            batch_size=config.batch_size,
            workers=config.workers,
            indices=indices,
            start=start,
            pin_memory=self.device.type == "cuda",
        )

    def _finish(self, stream: ModelStream, rate: float) -> AtlasParts | None:
        """Merge the shards (distributed runs) and take the atlas to the host (rank 0; ``None`` on the
        other ranks)."""
        config, shard, source = self.config, self.shard, self.source
        skipped = stream.skipped
        if shard.world > 1:
            skipped = gather_top_k(stream.topk, skipped, shard)
            if stream.statistics is not None:
                gather_statistics(stream.statistics, shard)
            if stream.effects is not None:
                gather_effects(stream.effects, shard)
            rate *= shard.world  # every rank streams at about the same rate
        if not shard.is_main:
            return None
        n_items = len(source.items)
        if len(skipped) == n_items:
            raise RuntimeError(f"none of the {n_items} images in {config.images} could be decoded")
        return gather_atlas(self.context, stream, skipped, rate)
