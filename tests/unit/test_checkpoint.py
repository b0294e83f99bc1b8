"""The checkpoint file: a round trip, and the files that are refused (with the reason and the fix)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from precompute.checkpoint import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    CheckpointError,
    CheckpointHeader,
    JobFingerprint,
    checkpoint_name,
    load_checkpoint,
    save_checkpoint,
)
from qkatlas.atlas.contract import SkippedImage

FINGERPRINT = JobFingerprint(
    statistics=None,
    effects=None,
    decoder="pillow",
    precision="fp32",
    model_source={"kind": "random-init", "seed": 0},
    images_sha256="0" * 64,
    batch_size=2,
    top_k=3,
    bases=("faithful",),
    world_size=1,
)


def _checkpoint(version: int = CHECKPOINT_FORMAT, fingerprint: JobFingerprint = FINGERPRINT) -> Checkpoint:
    header = CheckpointHeader(
        format_version=version,
        fingerprint=fingerprint,
        position=4,
        skipped=(SkippedImage(index=1, source="a.jpg", reason="truncated"),),
    )
    topk = {"scores": torch.randn(6, 3), "indices": torch.arange(18).view(6, 3)}
    statistics = {"count": torch.arange(6), "calibration_images": torch.tensor(4)}
    effects = {"count": torch.arange(3), "top_scores": torch.randn(3, 2)}
    return Checkpoint(header, topk, statistics, effects)


def _fix(path: Path) -> str:
    return f"run without --resume, or delete the folder {path.parent}"


def test_a_checkpoint_round_trips(tmp_path: Path) -> None:
    path = tmp_path / checkpoint_name(0, 1)
    saved = _checkpoint()
    save_checkpoint(path, saved)
    loaded = load_checkpoint(path, FINGERPRINT)
    assert loaded is not None and loaded.header == saved.header
    assert loaded.statistics is not None and saved.statistics is not None
    for name, tensor in {**saved.topk, **saved.statistics}.items():
        assert torch.equal((loaded.topk | loaded.statistics)[name], tensor), name
    assert loaded.effects is not None and saved.effects is not None
    for name, tensor in saved.effects.items():  # the effects' "count" is apart from the statistics' one
        assert torch.equal(loaded.effects[name], tensor), name
    assert load_checkpoint(tmp_path / "none.safetensors", FINGERPRINT) is None


def test_a_checkpoint_of_another_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / checkpoint_name(0, 1)
    save_checkpoint(path, _checkpoint(version=CHECKPOINT_FORMAT + 1))
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(path, FINGERPRINT)
    message = str(refused.value)
    assert f"has format {CHECKPOINT_FORMAT + 1}; this version reads format {CHECKPOINT_FORMAT}" in message
    assert _fix(path) in message


def test_a_checkpoint_of_another_job_is_refused(tmp_path: Path) -> None:
    path = tmp_path / checkpoint_name(0, 1)
    save_checkpoint(path, _checkpoint(fingerprint=FINGERPRINT.model_copy(update={"top_k": 4})))
    with pytest.raises(CheckpointError, match=r"different settings \(top_k\)") as refused:
        load_checkpoint(path, FINGERPRINT)
    assert _fix(path) in str(refused.value)


def test_a_checkpoint_of_another_precision_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / checkpoint_name(0, 1)
    save_checkpoint(path, _checkpoint(fingerprint=FINGERPRINT.model_copy(update={"precision": "bf16"})))
    with pytest.raises(CheckpointError, match=r"different settings \(precision\)"):
        load_checkpoint(path, FINGERPRINT)


@pytest.mark.parametrize("name", [checkpoint_name(0, 1), "checkpoint.pt"], ids=["in-place", "earlier-format"])
def test_a_pickled_file_is_refused_without_running_it(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / name
    path.write_bytes(pickle.dumps({"position": 4, "evil": _MarkerWriter(marker)}))
    checkpoint = tmp_path / checkpoint_name(0, 1)
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(checkpoint, FINGERPRINT)
    assert _fix(checkpoint) in str(refused.value)
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the file does run code when unpickled: the check above means something
    assert marker.exists()


class _MarkerWriter:
    """Unpickling it writes ``marker`` (as a malicious pickle would run anything)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_touch, (str(self.marker),))


def _touch(path: str) -> None:
    Path(path).touch()
