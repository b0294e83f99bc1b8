"""Several models in one job: one decoding per image (per group), one atlas per model, each equal to
the atlas of a single-model run; groups, resume, unloadable models and a full disk."""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.torch

from precompute import model_stream
from precompute.checkpoint import Checkpoint, checkpoint_name, read_checkpoint, save_checkpoint
from precompute.checkpoint_schedule import CheckpointSchedule
from precompute.cli import main
from qkatlas.atlas import Atlas
from qkatlas.atlas import writer as atlas_writer
from qkatlas.images import load_image_file
from qkatlas.mode_statistics import CALIBRATION_IMAGES
from qkatlas.models import load_model
from qkatlas.sample_photos import write_sample_photos
from tests.helpers.atlases import atlas_contents

#: Three paper families, shrunk (one block of width 48) but keeping each one's own preprocessing:
#: DeiT resizes to 256 × 256 and crops 224; CLIP resizes the shortest edge (bicubic) and crops 224;
#: ViT-B/32-384 resizes straight to 384 with 32 px patches.
MODELS = (
    "facebook/deit-tiny-distilled-patch16-224",
    "openai/clip-vit-base-patch32",
    "google/vit-base-patch32-384",
)
SHRINK = {"num_hidden_layers": 1, "hidden_size": 48, "num_attention_heads": 3, "intermediate_size": 96}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("multi-images")
    write_sample_photos(directory, ("astronaut", "coffee", "camera", "chelsea", "rocket", "cat"))
    return directory


def _args(models: tuple[str, ...], images: Path, out: Path, *extra: str) -> list[str]:
    args = [arg for model in models for arg in ("--model", model)]
    args += ["--images", str(images), "--out", str(out), "--random-init", "--top-k", "3", "--batch-size", "2"]
    args += ["--workers", "0", "--no-progress", "--checkpoint-every", "0"]
    for key, value in SHRINK.items():
        args += ["--override", f"{key}={value}"]
    return [*args, *extra]


def _atlases(out: Path) -> dict[str, Path]:
    return {path.name: path for path in out.iterdir() if (path / "manifest.json").is_file()}


@pytest.fixture(scope="module")
def single_runs(images: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """Each model's atlas from a job of its own: the reference."""
    out = tmp_path_factory.mktemp("single")
    for model in MODELS:
        assert main(_args((model,), images, out)) == 0
    return {slug: atlas_contents(path) for slug, path in _atlases(out).items()}


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    decoded: list[Path] = []

    def counting(path: Path) -> Any:
        decoded.append(path)
        return load_image_file(path)

    monkeypatch.setattr("qkatlas.images.batches.load_image_file", counting)
    return decoded


def test_the_models_preprocess_differently() -> None:
    preps = {load_model(m, random_init=True, overrides=SHRINK).preprocessing for m in MODELS}
    assert len(preps) == len(MODELS)


def test_one_stream_decodes_each_image_once_and_equals_single_runs(
    images: Path, tmp_path: Path, single_runs: dict[str, dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded = _count_decodes(monkeypatch)
    assert main(_args(MODELS, images, tmp_path)) == 0
    # Once each for all three models, plus once more for the statistics' calibration sample (the first
    # CALIBRATION_IMAGES images), which fixes every model's histogram bins before the stream.
    sample = sorted(images.iterdir())[:CALIBRATION_IMAGES]
    assert sorted(decoded) == sorted([*images.iterdir(), *sample])
    atlases = _atlases(tmp_path)
    assert set(atlases) == set(single_runs)
    for slug, path in atlases.items():
        assert atlas_contents(path) == single_runs[slug], slug
    assert not (tmp_path / ".partial").exists()  # emptied as each atlas was published, then removed


def test_groups_that_fit_the_device_memory_each_decode_once(
    images: Path,
    tmp_path: Path,
    single_runs: dict[str, dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    decoded = _count_decodes(monkeypatch)
    assert main(_args(MODELS, images, tmp_path, "--device-memory", "0.000001")) == 0
    assert "3 model(s) in 3 group(s)" in capsys.readouterr().err
    n_images = len(list(images.iterdir()))  # each group: its stream and its calibration sample
    assert len(decoded) == 3 * (n_images + min(n_images, CALIBRATION_IMAGES))
    assert {slug: atlas_contents(path) for slug, path in _atlases(tmp_path).items()} == single_runs


def test_an_unloadable_model_stops_the_job_before_any_work(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded = _count_decodes(monkeypatch)
    assert main(_args((MODELS[0], "no_such_model_anywhere"), images, tmp_path)) == 1
    error = capsys.readouterr().err
    assert "cannot load no_such_model_anywhere" in error and "--skip-unloadable" in error
    assert decoded == [] and not (tmp_path / ".partial").exists()

    assert main(_args((MODELS[0], "no_such_model_anywhere"), images, tmp_path, "--skip-unloadable")) == 0
    captured = capsys.readouterr()
    assert "skipping no_such_model_anywhere" in captured.err
    assert "not built: no_such_model_anywhere" in captured.out
    assert len(_atlases(tmp_path)) == 1


class _Crash(Exception):
    """Stands in for a killed process part-way through the stream."""


def _crash_after(monkeypatch: pytest.MonkeyPatch, n_batches: int, model: str) -> None:
    """Make ``model``'s stream fail at its ``n_batches + 1``-th batch."""
    original = model_stream.ModelStream.score
    seen = [0]

    def score(self: model_stream.ModelStream, *args: Any) -> None:
        if self.model_id == model:
            seen[0] += 1
            if seen[0] > n_batches:
                raise _Crash
        original(self, *args)

    monkeypatch.setattr(model_stream.ModelStream, "score", score)


class _FakeClock:
    """A clock for the checkpoint schedule that moves only when told (from any thread)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def _schedule_on(monkeypatch: pytest.MonkeyPatch, clock: _FakeClock) -> None:
    """The job's checkpoint schedule reads ``clock``."""
    monkeypatch.setattr("precompute.job.CheckpointSchedule", partial(CheckpointSchedule, clock=clock))


def _checkpoint_after_every_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``--checkpoint-every 0``: time stands still for the schedule (so no write is ever too slow
    for the next checkpoint) and each batch waits until the last checkpoint is on disk."""
    _schedule_on(monkeypatch, _FakeClock())
    original = model_stream.ModelStream.score

    def score(self: model_stream.ModelStream, batch: Any, consumed: int, background: Any) -> None:
        background.flush()
        original(self, batch, consumed, background)

    monkeypatch.setattr(model_stream.ModelStream, "score", score)


def test_resume_keeps_finished_atlases_and_continues_the_others(
    images: Path, tmp_path: Path, single_runs: dict[str, dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = _args(MODELS, images, tmp_path, "--device-memory", "0.000001")  # three groups, in order
    with monkeypatch.context() as patch:
        _checkpoint_after_every_batch(patch)
        _crash_after(patch, 2, MODELS[1])
        with pytest.raises(_Crash):
            main(args)
    finished = _atlases(tmp_path)
    assert len(finished) == 1  # the first group was published as soon as it was done
    (first,) = finished.values()
    first_written = (first / "manifest.json").stat().st_mtime_ns
    second_partial = next(p for p in (tmp_path / ".partial").iterdir() if "clip" in p.name)
    assert read_checkpoint(second_partial / checkpoint_name(0, 1)).header.position == 4

    assert main([*args, "--resume"]) == 0
    assert (first / "manifest.json").stat().st_mtime_ns == first_written  # kept, not rebuilt
    assert {slug: atlas_contents(path) for slug, path in _atlases(tmp_path).items()} == single_runs

    assert main([*args, "--resume", "--rebuild-finished"]) == 0
    assert (first / "manifest.json").stat().st_mtime_ns != first_written


def _full_disk_after(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, path_arg: int, n_calls: int) -> None:
    """From its ``n_calls + 1``-th call on, ``target.name`` writes a few bytes to the file it was given
    (argument ``path_arg``) and fails with ENOSPC, as a write to a full disk does."""
    original: Callable[..., Any] = getattr(target, name)
    calls = [0]

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] > n_calls:
            with open(args[path_arg], "wb") as half:  # not through ``target``, which may open files itself
                half.write(b"half a file")
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, failing)


@pytest.mark.parametrize(
    ("target", "name", "path_arg", "n_calls"),
    # Thumbnails are written by save_thumbnail(image, path), arrays by save_array(path, array), several at
    # once (qkatlas.atlas.writer).
    [
        (safetensors.torch, "save_file", 1, 1),
        (atlas_writer, "save_thumbnail", 1, 3),
        (atlas_writer, "save_array", 0, 0),
    ],
    ids=["checkpoint", "thumbnail", "atlas-arrays"],
)
def test_a_full_disk_stops_with_a_clear_error_and_resume_completes(
    images: Path,
    tmp_path: Path,
    single_runs: dict[str, dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    target: Any,
    name: str,
    path_arg: int,
    n_calls: int,
) -> None:
    args = _args(MODELS[:1], images, tmp_path)
    with monkeypatch.context() as patch:
        _full_disk_after(patch, target, name, path_arg, n_calls)
        assert main(args) == 1
    error = capsys.readouterr().err
    assert "no space left on the device" in error and "--resume" in error
    (partial,) = (tmp_path / ".partial").iterdir()
    assert (partial / checkpoint_name(0, 1)).is_file()  # the last good checkpoint survives
    assert not list(partial.rglob("*.tmp"))  # no half-written file left behind
    assert _atlases(tmp_path) == {}

    assert main([*args, "--resume"]) == 0
    ((slug, atlas),) = _atlases(tmp_path).items()
    assert atlas_contents(atlas) == single_runs[slug]


def test_nvjpeg_without_cuda_is_refused_with_the_reason(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(MODELS[:1], images, tmp_path, "--decode", "nvjpeg", "--device", "cpu")) == 1
    assert "nvJPEG does not decode on device cpu" in capsys.readouterr().err


def test_the_device_decoding_path_builds_the_same_winners_up_to_rounding(
    images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's device-decoding stream, run with libjpeg on the CPU (the same code nvJPEG runs on a
    GPU): every model's atlas records the decoder, and its top-K matches the Pillow atlas but for
    near-ties that the resize's rounding may swap."""
    monkeypatch.setattr(
        "precompute.job.resolve_decode", lambda name, device: "pillow" if name == "pillow" else "nvjpeg"
    )
    assert main(_args(MODELS, images, tmp_path / "device")) == 0
    assert main(_args(MODELS, images, tmp_path / "pillow", "--decode", "pillow")) == 0
    for slug, device_path in _atlases(tmp_path / "device").items():
        device_atlas, pillow_atlas = Atlas.open(device_path), Atlas.open(tmp_path / "pillow" / slug)
        assert (device_atlas.manifest.run.decoder, pillow_atlas.manifest.run.decoder) == ("nvjpeg", "pillow")
        device_top, pillow_top = device_atlas.arrays["topk_indices"], pillow_atlas.arrays["topk_indices"]
        same_sets = [
            len(set(a) & set(b)) / len(a)
            for a, b in zip(device_top.reshape(-1, 3).tolist(), pillow_top.reshape(-1, 3).tolist(), strict=True)
        ]
        assert np.mean(same_sets) > 0.97, slug
        scores = device_atlas.arrays["topk_scores"], pillow_atlas.arrays["topk_scores"]
        assert np.allclose(*scores, rtol=0.05, atol=0.05 * np.nanmax(np.abs(scores[1]))), slug


def test_checkpoints_never_pile_up_and_keep_the_writer_mostly_free(
    images: Path, tmp_path: Path, single_runs: dict[str, dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint is due after every batch (``--checkpoint-every 0``) but the disk is slow: the stream
    queues none while one is being written, waits ten times the last write before the next, and the
    atlases are unchanged."""
    score = model_stream.ModelStream.score
    clock = _FakeClock()
    _schedule_on(monkeypatch, clock)

    def slow_write(path: Path, state: Checkpoint) -> None:
        clock.advance(0.5)  # so the next checkpoint is due 5 s after this one, after the stream's end
        save_checkpoint(path, state)

    def slow_score(self: model_stream.ModelStream, *args: Any) -> None:
        clock.advance(0.5)  # two models: 1 s per batch, 3 s for the three batches of two images
        score(self, *args)

    queued: dict[str, list[bool]] = {}
    save = model_stream.ModelStream.save

    def recording_save(self: model_stream.ModelStream, *args: Any) -> None:
        queued.setdefault(self.model_id, []).append(self.saving)
        save(self, *args)

    monkeypatch.setattr("precompute.model_stream.save_checkpoint", slow_write)
    monkeypatch.setattr(model_stream.ModelStream, "score", slow_score)
    monkeypatch.setattr(model_stream.ModelStream, "save", recording_save)
    assert main(_args(MODELS[:2], images, tmp_path)) == 0
    assert len(queued) == 2
    for calls in queued.values():
        assert not any(calls)  # none queued behind an unwritten one
        assert len(calls) == 1  # each batch was due one; the write's 0.5 s pushed the next past the end
    built = {slug: atlas_contents(path) for slug, path in _atlases(tmp_path).items()}
    assert built == {slug: single_runs[slug] for slug in built} and len(built) == 2
