"""One model's part of a shared image stream: its running top-K, thumbnails and checkpoints.

Several models can share one stream (each image decoded once); each keeps its own ``ModelStream``
with its own resume point, so a model whose checkpoint is further along simply skips the batches it
has already scored. Thumbnails and checkpoints go through the job's ``BackgroundWriter``.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch

from precompute.background import BackgroundWriter
from precompute.checkpoint import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    CheckpointHeader,
    JobFingerprint,
    load_checkpoint,
    save_checkpoint,
)
from precompute.checkpoint_schedule import CheckpointSchedule
from qkatlas.atlas import AtlasWriter
from qkatlas.atlas.contract import SkippedImage
from qkatlas.images import Batch
from qkatlas.mode_effects import RunningEffects
from qkatlas.mode_statistics import HistogramBins, RunningStatistics
from qkatlas.models.base import ViTAdapter
from qkatlas.scoring import TopKScorer
from qkatlas.svd import Decomposition
from qkatlas.ties import Rounding
from qkatlas.topk import RunningTopK


class Thumbnails:
    """Thumbnails of the images that entered some top-K, distribution sample or top effects, written (in the
    background) as they enter.

    ``written`` is what has been handed to the writer; resumed runs start from the files already on
    disk (each is written atomically). Thumbnails of images that later dropped out of every one are
    removed when the atlas is finished.
    """

    def __init__(self, writer: AtlasWriter) -> None:
        self.writer = writer
        self.written = writer.thumbnail_indices()

    def new(self, indices: list[int]) -> list[int]:
        """The positions in ``indices`` whose thumbnails are not written yet."""
        return [position for position, index in enumerate(indices) if index not in self.written]

    def write(self, indices: list[int], images: torch.Tensor) -> None:
        """``images``: uint8 ``[n, 3, S, S]`` on the CPU, as the model saw them (writer thread)."""
        self.writer.write_thumbnails(indices, list(images.permute(0, 2, 3, 1).numpy()))

    def add(self, indices: list[int], images: torch.Tensor, rows: torch.Tensor, background: BackgroundWriter) -> None:
        """Queue the thumbnails of the entered images that have none yet: ``rows`` (int64 on the CPU)
        are the entered rows of the batch ``images [b, 3, S, S]`` (uint8, on any device), ``indices``
        their dataset indices. Images on a GPU are copied to the host without waiting for it: the
        writer thread waits for the copy instead."""
        new = self.new(indices)
        if not new:
            return
        chosen = [indices[position] for position in new]
        self.written.update(chosen)
        picked = rows[torch.tensor(new)]
        what = f"thumbnails in {self.writer.directory}"
        if images.device.type != "cuda":
            background.submit(self.write, chosen, images[picked], what=what)
            return
        on_device = images.index_select(0, picked.pin_memory().to(images.device, non_blocking=True))
        host = torch.empty(on_device.shape, dtype=on_device.dtype, pin_memory=True)
        host.copy_(on_device, non_blocking=True)
        copied = torch.cuda.current_stream(images.device).record_event()
        background.submit(self._write_when_copied, chosen, host, copied, what=what)

    def _write_when_copied(self, indices: list[int], images: torch.Tensor, copied: torch.cuda.Event) -> None:
        copied.synchronize()
        self.write(indices, images)


@dataclass
class ModelStream:
    """One model's pass over this process's share of the images.

    ``position`` counts the selected images consumed so far (the resume point); ``skipped`` lists the
    images that could not be decoded; ``view`` is the model's preprocessing in the shared batches.
    ``statistics`` (when the job keeps them) starts once its bins are calibrated (``start_statistics``);
    ``class_of [n_items]`` (on the device) maps a dataset index to its class id (−1: no label).
    ``effects`` (when the job measures them) likewise starts once its bins are calibrated (``start_effects``).
    """

    model_id: str
    slug: str
    adapter: ViTAdapter
    dec: Decomposition
    view: int
    writer: AtlasWriter
    thumbnails: Thumbnails
    scorer: TopKScorer
    topk: RunningTopK
    checkpoint: Path
    fingerprint: JobFingerprint
    position: int = 0
    skipped: list[SkippedImage] = field(default_factory=list)
    scored_images: int = 0
    statistics: RunningStatistics | None = None
    class_of: torch.Tensor | None = None
    effects: RunningEffects | None = None
    #: The relative rounding of a score at the job's precision (``qkatlas.ties``), set before the stream.
    rounding: Rounding | None = None
    _saving: threading.Event = field(default_factory=threading.Event, repr=False)

    @staticmethod
    def resume_state(
        partial: Path, checkpoint_name: str, fingerprint: JobFingerprint, *, resume: bool, is_main: bool
    ) -> Checkpoint | None:
        """The checkpoint to continue from when resuming (one of another format or job is refused:
        ``CheckpointError``); otherwise the main process clears what an earlier run left in
        ``partial``. Under ``torchrun`` every rank must call this before any rank calls ``open`` (a
        barrier in between)."""
        state = load_checkpoint(partial / checkpoint_name, fingerprint) if resume else None
        if state is None and is_main and partial.exists():
            shutil.rmtree(partial)
        return state

    @classmethod
    def open(
        cls,
        *,
        model_id: str,
        slug: str,
        adapter: ViTAdapter,
        dec: Decomposition,
        view: int,
        partial: Path,
        checkpoint_name: str,
        fingerprint: JobFingerprint,
        scorer: TopKScorer,
        top_k: int,
        state: Checkpoint | None,
        class_of: torch.Tensor | None = None,
    ) -> ModelStream:
        """Start from ``state`` (see ``resume_state``), or from scratch when it is ``None``.
        ``class_of``: the class lookup when the job keeps statistics."""
        writer = AtlasWriter(partial)
        stream = cls(
            model_id=model_id,
            slug=slug,
            adapter=adapter,
            dec=dec,
            view=view,
            writer=writer,
            thumbnails=Thumbnails(writer),
            scorer=scorer,
            topk=scorer.new_top_k(top_k),
            checkpoint=partial / checkpoint_name,
            fingerprint=fingerprint,
            class_of=class_of,
        )
        if state is not None:
            stream.topk.load_state_dict(state.topk)
            stream.position = state.header.position
            stream.skipped = list(state.header.skipped)
            if state.statistics is not None:
                stream.statistics = RunningStatistics.from_state_dict(state.statistics, adapter.device)
            if state.effects is not None:
                stream.effects = RunningEffects.from_state_dict(state.effects, adapter.device)
        return stream

    def start_statistics(self, bins: HistogramBins, n_classes: int) -> None:
        """Keep statistics from now on, with ``bins`` (calibrated before any image is scored)."""
        self.statistics = RunningStatistics(bins, n_classes, self.adapter.device)

    def start_effects(self, bins: HistogramBins) -> None:
        """Measure every mode's effect from now on, with ``bins`` (calibrated before any image is scored)."""
        self.effects = RunningEffects(bins, self.adapter.device)

    def score(self, batch: Batch, consumed: int, background: BackgroundWriter) -> None:
        """Merge ``batch`` (this model's view of the next ``consumed`` selected items) into the top-K
        and queue the thumbnails of the images that entered it. One host synchronization: the fetch of
        the entered rows."""
        if len(batch):
            classes = None
            if self.statistics is not None and self.class_of is not None:
                classes = self.class_of[batch.indices.to(self.class_of.device, non_blocking=True)]
            entered = self.scorer.score(
                batch.images, batch.indices, self.topk, self.statistics, classes, self.effects
            ).cpu()
            rows = entered.nonzero().flatten()
            if len(rows):
                self.thumbnails.add(batch.indices[rows].tolist(), batch.images, rows, background)
        self.skipped.extend(SkippedImage(index=i, source=s, reason=r) for i, s, r in batch.skipped)
        self.position += consumed
        self.scored_images += len(batch)

    def save(self, background: BackgroundWriter, schedule: CheckpointSchedule) -> None:
        """Queue a checkpoint of the state as it is now (copied, so the stream can go on); its write
        is timed by ``schedule``."""
        header = CheckpointHeader(
            format_version=CHECKPOINT_FORMAT,
            fingerprint=self.fingerprint,
            position=self.position,
            skipped=tuple(self.skipped),
        )
        statistics = self.statistics.state_dict() if self.statistics is not None else None
        effects = self.effects.state_dict() if self.effects is not None else None
        state = Checkpoint(header, self.topk.state_dict(), statistics, effects)
        self._saving.set()
        background.submit(self._save, state, schedule, what=f"the checkpoint {self.checkpoint}")

    @property
    def saving(self) -> bool:
        """A checkpoint has been queued and is not on disk yet."""
        return self._saving.is_set()

    def _save(self, state: Checkpoint, schedule: CheckpointSchedule) -> None:
        try:
            schedule.timed(lambda: save_checkpoint(self.checkpoint, state))
        finally:
            self._saving.clear()
