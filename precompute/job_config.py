"""What a precompute job is asked to do (``JobConfig``), and what it resolved when it started
(``JobContext``): the one record that its streaming (``precompute.job``) and its atlas assembly
(``precompute.assemble``) share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import torch

from precompute.shard import Shard
from qkatlas.conventions import BASES, Basis
from qkatlas.device import Precision, PrecisionName
from qkatlas.images import DecodeName, ImageSource
from qkatlas.progress import ProgressSink


@dataclass(frozen=True)
class JobConfig:
    """One job: ``models`` (ids, in the order they are planned) over the images of ``images``."""

    models: tuple[str, ...]
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
    #: Hub weights at this branch, tag or commit (``None``: main); the manifest records the commit loaded.
    revision: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    dataset_name: str | None = None
    bases: tuple[Basis, ...] = BASES
    checkpoint_every_s: float = 30.0
    show_progress: bool = True
    #: Leave out (and report) models that cannot be loaded instead of stopping the job.
    skip_unloadable: bool = False
    #: With ``resume``: rebuild atlases that are already finished instead of keeping them.
    rebuild_finished: bool = False
    #: Device bytes the plan may use; ``None``: measured (``precompute.plan.device_memory_budget``).
    device_memory: int | None = None
    #: JPEG decoder: ``auto`` is nvJPEG on a CUDA device (``qkatlas.images.resolve_decode``).
    decode: DecodeName = "auto"
    #: Keep per-mode score statistics (``qkatlas.mode_statistics``) in the same pass.
    statistics: bool = True
    #: Measure the attention each mode moves (``qkatlas.mode_effects``) in the same pass; costly on a CPU.
    effects: bool = False
    #: How the scores are computed (``qkatlas.device.resolve_precision``): ``auto`` is bf16 on CUDA, fp32 on the CPU.
    precision: PrecisionName = "auto"


@dataclass(frozen=True)
class JobContext:
    """A running job: its ``config`` and what was resolved from it before any image was read.

    ``started``: the wall-clock start and ``start_clock`` the ``time.perf_counter()`` reading at that
    moment (the atlases' run durations count from it); ``n_models``: the models this run streams (not
    the finished atlases it keeps); ``log`` prints a message for the person running the job (rank 0).
    """

    config: JobConfig
    source: ImageSource
    shard: Shard
    device: torch.device
    decoder: Literal["pillow", "nvjpeg"]
    on_progress: ProgressSink | None
    #: ``config.precision`` resolved for ``device``.
    precision: Precision
    log: Callable[[str], None]
    started: datetime
    start_clock: float
    n_models: int

    @property
    def classes(self) -> tuple[str, ...]:
        """The class labels the statistics are kept for (none without statistics)."""
        return self.source.classes if self.config.statistics else ()
