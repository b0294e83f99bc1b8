"""The precompute job killed, doubled and starved of disk on purpose: nothing lost, every message clear.

Each fault strikes at a point chosen by an event inside the job (``tests.helpers.job_faults``: the
process stops itself right after the n-th checkpoint, the stream past image n, a batch of
thumbnails, an array of the atlas being published), drawn from a seeded random generator, and the
atlas finally published is compared with an uninterrupted build of the same job, file by file.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from precompute.checkpoint import checkpoint_name, read_checkpoint
from precompute.folder_lock import LOCK_FILE
from qkatlas.atlas import find_atlases
from qkatlas.atlas import format as fmt
from tests.helpers.atlases import (
    TINY_JOB_OPTIONS,
    TINY_OVERRIDES,
    TINY_VIT,
    assert_same_atlas,
    atlas_contents,
    build_atlas,
    tiny_job_command,
    two_ranks_command,
)
from tests.helpers.faults import FaultRecorder
from tests.helpers.job_faults import FaultPoint, run_job_to_end, start_job

#: The seed of the fault points (printed with every failure through the points' labels).
SEED = 27
#: Entries of the listing: 16 photos, four times over, so that the job takes 32 batches of 2.
N_IMAGES = 64

STREAM = "precompute.model_stream"
WRITER = "qkatlas.atlas.writer"


@pytest.fixture(scope="module")
def listing(tmp_path_factory: pytest.TempPathFactory, photo_dir: Path) -> Path:
    path = tmp_path_factory.mktemp("listing") / "images.txt"
    photos = sorted(photo_dir.iterdir())
    path.write_text("".join(f"{photos[i % len(photos)]}\n" for i in range(N_IMAGES)))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, listing: Path) -> Path:
    """The tiny ViT's atlas of ``listing``, built in one uninterrupted run."""
    return build_atlas(
        tmp_path_factory.mktemp("reference"), TINY_VIT, listing, *TINY_JOB_OPTIONS, overrides=TINY_OVERRIDES
    )


def differences(atlas: Path, reference: Path, split_sums: bool = False) -> int:
    """How many files differ between two atlases or are missing from one (the manifest counted as one;
    ``split_sums``: the statistics' float sums compared with a tolerance, as two processes add them in
    another order)."""
    if not (atlas / fmt.MANIFEST).is_file():
        return len(atlas_contents(reference)["files"]) + 1
    ours, theirs = atlas_contents(atlas, split_sums), atlas_contents(reference, split_sums)
    names = ours["files"].keys() | theirs["files"].keys()
    count: int = sum(ours["files"].get(name) != theirs["files"].get(name) for name in names)
    for name in ours.get("sums", {}).keys() | theirs.get("sums", {}).keys():
        a, b = ours["sums"].get(name), theirs["sums"].get(name)
        count += a is None or b is None or not np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
    same_manifest: bool = ours["manifest"] == theirs["manifest"]
    return count + (not same_manifest)


def assert_clear(output: str, *phrases: str) -> None:
    """A message for a person: each of ``phrases``, and no traceback."""
    assert "Traceback" not in output, output
    for phrase in phrases:
        assert phrase in output, f"{phrase!r} not in:\n{output}"


def test_one_process_killed_at_random_points_then_resumed_equals_the_uninterrupted_atlas(
    tmp_path: Path, listing: Path, reference: Path, faults: FaultRecorder
) -> None:
    rng = random.Random(SEED)
    partial = tmp_path / "out" / fmt.PARTIAL_DIR / reference.name

    def checkpoint_kept() -> None:
        assert 0 < read_checkpoint(partial / checkpoint_name(0, 1)).header.position < N_IMAGES

    def manifest_written() -> None:
        assert (partial / fmt.MANIFEST).is_file() and (partial / checkpoint_name(0, 1)).is_file()

    points = [  # in the order the job reaches them, each in a run resumed after the one before
        (FaultPoint("while writing thumbnails", f"{STREAM}:Thumbnails.write", calls=rng.randint(1, 2)), None),
        (FaultPoint("after the run's first checkpoint", f"{STREAM}:ModelStream._save", calls=1), checkpoint_kept),
        (FaultPoint("mid-stream", f"{STREAM}:ModelStream.score", position=rng.randint(20, 44)), None),
        (FaultPoint("after the last batch", f"{STREAM}:ModelStream.score", position=N_IMAGES), None),
        (FaultPoint("while publishing the arrays", f"{WRITER}:AtlasWriter._save", calls=rng.randint(1, 16)), None),
        # summary.json, images.json, then the manifest: before the checkpoints are deleted and the rename
        (FaultPoint("the manifest written", f"{WRITER}:write_json_atomic", calls=3), manifest_written),
    ]
    command = tiny_job_command(listing, tmp_path / "out")
    for number, (point, check) in enumerate(points):
        job = start_job([*command, *(["--resume"] if number else [])], tmp_path / f"run{number}", point)
        job.kill(job.wait_for_fault())
        job.wait()
        assert not (tmp_path / "out" / reference.name).exists(), f"published before the kill {point.label}"
        if check is not None:
            check()
    status, output = run_job_to_end([*command, "--resume"], tmp_path / "last")
    assert status == 0, output
    atlas = tmp_path / "out" / reference.name
    lost = differences(atlas, reference)
    faults.record(
        "the job killed (SIGKILL) at 6 points, one process",
        injected=len(points),
        requests=len(points) + 1,
        failures_seen=0,
        lost=lost,
        produced="each --resume went on from the last checkpoint; the atlas equals the uninterrupted one",
    )
    assert lost == 0, [point.label for point, _ in points]
    assert not (tmp_path / "out" / fmt.PARTIAL_DIR).exists()


def test_two_ranks_killed_one_then_all_then_resumed_equal_the_uninterrupted_atlas(
    tmp_path: Path, listing: Path, reference: Path, faults: FaultRecorder
) -> None:
    rng = random.Random(SEED)
    out = tmp_path / "out"
    command = two_ranks_command(listing, out, "--model", TINY_VIT, *TINY_JOB_OPTIONS, "--checkpoint-every", "0")
    per_rank = N_IMAGES // 2
    # rank 1 stops mid-stream and is killed (torchrun then stops rank 0); then the whole group is killed
    # when rank 0 is further on
    one = FaultPoint("rank 1 mid-stream", f"{STREAM}:ModelStream.score", position=rng.randint(6, 14), rank=1)
    job = start_job(command, tmp_path / "one rank", one)
    job.kill(job.wait_for_fault())
    assert job.wait() != 0
    every = FaultPoint("rank 0 later on", f"{STREAM}:ModelStream.score", position=rng.randint(18, per_rank), rank=0)
    job = start_job([*command, "--resume"], tmp_path / "all ranks", every)
    job.wait_for_fault()
    job.kill_all()
    job.wait()
    assert not (out / reference.name).exists()

    status, output = run_job_to_end([*command, "--resume"], tmp_path / "last")
    assert status == 0, output[-3000:]
    lost = differences(out / reference.name, reference, split_sums=True)
    faults.record(
        "the job killed under torchrun: one rank, then the whole group",
        injected=2,
        requests=3,
        failures_seen=0,
        lost=lost,
        produced="--resume went on from each rank's last checkpoint; the atlas equals the one-process atlas",
    )
    assert_same_atlas(out / reference.name, reference)


def test_a_second_job_on_the_folder_is_refused_at_once_and_a_killed_one_blocks_nothing(
    tmp_path: Path, listing: Path, reference: Path, faults: FaultRecorder
) -> None:
    out = tmp_path / "out"
    command = tiny_job_command(listing, out)
    first = start_job(
        command, tmp_path / "first", FaultPoint("after a checkpoint", f"{STREAM}:ModelStream._save", calls=1)
    )
    pid = first.wait_for_fault()  # the first job holds the folder (stopped here, so that it surely still runs)
    refusals = [
        run_job_to_end([*command, "--resume"], tmp_path / "second"),
        run_job_to_end(two_ranks_command(listing, out, "--model", TINY_VIT, *TINY_JOB_OPTIONS), tmp_path / "torchrun"),
    ]
    for status, output in refusals:
        assert status != 0
        assert f"the output folder {out} is in use by another job: pid {pid} on " in output, output
        assert "started " in output and "--resume" in output
        assert "loading model" not in output  # refused before any work
    assert "Traceback" not in refusals[0][1]  # (torchrun adds its own report of the failed ranks)
    first.resume(pid)
    assert first.wait() == 0, first.output()
    lost = differences(out / reference.name, reference)

    # A killed job leaves its record in the lock file, but no lock: --resume goes on at once.
    again = tmp_path / "again"
    killed = start_job(
        tiny_job_command(listing, again),
        tmp_path / "killed",
        FaultPoint("after a checkpoint", f"{STREAM}:ModelStream._save", calls=1),
    )
    killed_pid = killed.wait_for_fault()
    killed.kill(killed_pid)
    killed.wait()
    assert f'"pid":{killed_pid}' in (again / LOCK_FILE).read_text()
    status, output = run_job_to_end([*tiny_job_command(listing, again), "--resume"], tmp_path / "resumed")
    assert status == 0, output
    lost += differences(again / reference.name, reference)
    faults.record(
        "a second job on a running job's folder (one process, torchrun)",
        injected=2,
        requests=3,
        failures_seen=2,
        lost=lost,
        produced="refused at once, naming the running job (host, pid, start); the first finished unharmed",
    )
    faults.record(
        "the lock's holder killed (SIGKILL)",
        injected=1,
        requests=2,
        failures_seen=0,
        lost=0,
        produced="its stale record did not block --resume",
    )
    assert lost == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 64 MiB tmpfs of its own (``None`` where mounting is not allowed: the fault is then injected)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None or shutil.which("umount") is None:
        yield None
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:  # not root, or a container that forbids mounts
        yield None
        return
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_disk_full_while_publishing_keeps_the_old_atlas_and_resume_completes(
    tmp_path: Path, listing: Path, reference: Path, small_disk: Path | None, faults: FaultRecorder
) -> None:
    out = (small_disk or tmp_path) / "atlases"
    old = build_atlas(
        out, TINY_VIT, listing, "--random-init", "--top-k", "2", "--batch-size", "2", overrides=TINY_OVERRIDES
    )
    assert old.name == reference.name  # the same atlas, to be replaced by the job that meets the full disk
    before = {path: path.read_bytes() for path in sorted(old.rglob("*")) if path.is_file()}
    filler = (small_disk or tmp_path) / "filler"
    full = FaultPoint(
        "the disk full when the first array is written",
        f"{WRITER}:AtlasWriter._save",
        calls=1,
        action="fill" if small_disk else "enospc",
        filler=filler if small_disk else None,
    )
    command = tiny_job_command(listing, out)
    status, output = run_job_to_end(command, tmp_path / "full", full)
    assert status == 1
    assert_clear(output, f"no space left on the device while writing the atlas {reference.name}", "free in", "--resume")
    if small_disk:
        assert f"(0 B free in {out})" in output
    assert {path: path.read_bytes() for path in sorted(old.rglob("*")) if path.is_file()} == before
    atlases, failures = find_atlases(out)
    assert [atlas.path for atlas in atlases] == [old] and not failures

    filler.unlink(missing_ok=True)  # space freed
    status, output = run_job_to_end([*command, "--resume"], tmp_path / "resumed")
    assert status == 0, output
    lost = differences(out / reference.name, reference)
    faults.record(
        f"the disk full while publishing ({'a full tmpfs' if small_disk else 'ENOSPC injected'})",
        injected=1,
        requests=3,
        failures_seen=1,
        lost=lost,
        produced="a message naming the atlas, the free space and --resume; the old atlas intact; resumed",
    )
    assert lost == 0
