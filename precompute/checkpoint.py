"""The checkpoint file: one model's stream state as plain tensors (safetensors) plus a typed JSON header.

Nothing in it is executable: loading reads tensors and validates the header, so a file dropped into
the output folder cannot run code (a pickled checkpoint of an earlier version is refused, never
unpickled). The header carries ``CHECKPOINT_FORMAT`` and the job's fingerprint; a checkpoint of
another format or another job is refused with the reason and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from pydantic import BaseModel, ConfigDict, ValidationError

from qkatlas.atlas.contract import SkippedImage
from qkatlas.conventions import Basis
from qkatlas.distribution_samples import N_BANDS, PER_BAND
from qkatlas.images import ImageSource
from qkatlas.mode_effects import EFFECT_TOP_K
from qkatlas.mode_statistics import CALIBRATION_IMAGES, N_BINS
from qkatlas.models import model_source
from qkatlas.models.base import ViTAdapter

#: Bumped whenever what a checkpoint holds changes; another format is refused, never guessed at.
CHECKPOINT_FORMAT = 4
#: The checkpoint files of a partial atlas (``checkpoint-rank<r>.safetensors`` per process of a
#: distributed run): what publishing the atlas leaves out.
CHECKPOINT_GLOB = "checkpoint*.safetensors"
#: The header's key in the safetensors metadata.
_HEADER_KEY = "qkatlas_checkpoint"
_TOPK, _STATISTICS, _EFFECTS = "topk.", "statistics.", "effects."


def checkpoint_name(rank: int, world: int) -> str:
    """The checkpoint file of process ``rank`` of ``world``."""
    return "checkpoint.safetensors" if world == 1 else f"checkpoint-rank{rank}.safetensors"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed; the message says why and what to do."""


class JobFingerprint(BaseModel):
    """What must match for a checkpoint to be resumed: the model's weights, the images (their
    sources' SHA-256, in order), the batch size, K, the bases, the number of processes, the decoder
    (its pixels differ by rounding), the precision (its scores differ by rounding), the statistics'
    binning rule (whose bins the checkpoint holds) and whether the attention moved by each mode is
    measured (``effects``: its top-K and bins, else None)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    statistics: str | None
    effects: str | None
    decoder: str
    precision: str
    model_source: dict[str, Any]
    images_sha256: str
    batch_size: int
    top_k: int
    bases: tuple[str, ...]
    world_size: int


def fingerprint(
    adapter: ViTAdapter,
    source: ImageSource,
    *,
    batch_size: int,
    top_k: int,
    bases: tuple[Basis, ...],
    world: int,
    decoder: str,
    precision: str,
    statistics: bool,
    effects: bool,
) -> JobFingerprint:
    """The fingerprint of one model's stream in a job."""
    images = hashlib.sha256(json.dumps([item.source for item in source.items]).encode()).hexdigest()
    return JobFingerprint(
        statistics=(
            f"{N_BINS} bins, {CALIBRATION_IMAGES} calibration images, {N_BANDS}×{PER_BAND} distribution samples"
            if statistics
            else None
        ),
        effects=f"top {EFFECT_TOP_K}, {N_BINS} bins, {CALIBRATION_IMAGES} calibration images" if effects else None,
        decoder=decoder,
        precision=precision,
        model_source=model_source(adapter).model_dump(mode="json"),
        images_sha256=images,
        batch_size=batch_size,
        top_k=top_k,
        bases=tuple(basis.value for basis in bases),
        world_size=world,
    )


class CheckpointHeader(BaseModel):
    """The typed part of a checkpoint: ``position`` (selected images consumed) and ``skipped`` (the
    images that could not be decoded) of the stream whose job is ``fingerprint``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: int
    fingerprint: JobFingerprint
    position: int
    skipped: tuple[SkippedImage, ...]


@dataclass(frozen=True)
class Checkpoint:
    """A stream's state: the header, the top-K's tensors (``RunningTopK.state_dict``) and, when the job
    keeps them, the statistics' tensors (``RunningStatistics.state_dict``) and the effects' tensors
    (``RunningEffects.state_dict``); all on the CPU."""

    header: CheckpointHeader
    topk: dict[str, torch.Tensor]
    statistics: dict[str, torch.Tensor] | None
    effects: dict[str, torch.Tensor] | None = None


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint atomically: a failed write (a full disk) keeps the previous one."""
    tensors = {_TOPK + name: tensor for name, tensor in checkpoint.topk.items()}
    tensors.update({_STATISTICS + name: tensor for name, tensor in (checkpoint.statistics or {}).items()})
    tensors.update({_EFFECTS + name: tensor for name, tensor in (checkpoint.effects or {}).items()})
    tmp = path.with_suffix(".tmp")
    try:
        safetensors.torch.save_file(tensors, str(tmp), metadata={_HEADER_KEY: checkpoint.header.model_dump_json()})
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _refused(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(f"{reason}: run without --resume, or delete the folder {path.parent}")


def read_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint at ``path``, whatever job made it; raises ``CheckpointError`` for a file that is
    not a checkpoint of ``CHECKPOINT_FORMAT``."""
    try:
        with safetensors.safe_open(str(path), framework="pt") as file:
            raw = (file.metadata() or {}).get(_HEADER_KEY)
            if raw is None:
                raise _refused(path, f"{path} is a safetensors file but not a qkatlas checkpoint")
            version = json.loads(raw).get("format_version")
            if version != CHECKPOINT_FORMAT:
                raise _refused(
                    path, f"the checkpoint {path} has format {version}; this version reads format {CHECKPOINT_FORMAT}"
                )
            header = CheckpointHeader.model_validate_json(raw)
            tensors = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118 (not a dict)
    except safetensors.SafetensorError as error:
        raise _refused(path, f"{path} is not a qkatlas checkpoint ({error})") from error
    except (ValidationError, json.JSONDecodeError, AttributeError) as error:
        raise _refused(path, f"the checkpoint {path} has an unreadable header ({error})") from error

    def part(prefix: str) -> dict[str, torch.Tensor]:
        return {name.removeprefix(prefix): tensor for name, tensor in tensors.items() if name.startswith(prefix)}

    return Checkpoint(header, part(_TOPK), part(_STATISTICS) or None, part(_EFFECTS) or None)


def load_checkpoint(path: Path, fingerprint: JobFingerprint) -> Checkpoint | None:
    """The checkpoint to resume from at ``path`` (``None`` when there is none); raises
    ``CheckpointError`` for one of another format or another job."""
    if not path.is_file():
        legacy = path.with_suffix(".pt")
        if legacy.is_file():  # pickled, as written before CHECKPOINT_FORMAT 1: never loaded
            raise _refused(path, f"{legacy} is a checkpoint of an earlier, pickled format, which is not loaded")
        return None
    checkpoint = read_checkpoint(path)
    if checkpoint.header.fingerprint != fingerprint:
        saved, asked = checkpoint.header.fingerprint.model_dump(), fingerprint.model_dump()
        differ = ", ".join(name for name in asked if saved[name] != asked[name])
        raise _refused(path, f"the checkpoint in {path.parent} was made with different settings ({differ})")
    return checkpoint
