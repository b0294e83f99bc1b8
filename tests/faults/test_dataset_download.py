"""The Imagenette download broken on purpose (``quickstart.default_atlases.fetch_imagenette`` against a
local stand-in server, ``tests/helpers/download_standin.py``): every failure says what went wrong with
the URL and ``QKATLAS_IMAGENETTE_URL`` in a few lines, a cut download resumes where it stopped, nothing
half-written breaks the next run, and the next run succeeds once the cause is gone."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from qkatlas.images import open_image_source
from quickstart.default_atlases import IMAGENETTE_CLASSES, fetch_imagenette, imagenette_archive_path
from quickstart.download import DownloadError, DownloadSource, RetryPolicy, download, partial_path
from tests.helpers.download_standin import VAL_CLASSES, DownloadStandin, imagenette_archive
from tests.helpers.faults import FaultRecorder

REPO = Path(__file__).resolve().parents[2]
#: Tries within one run, without the real 1-2-4 s waits (the backoff's doubling is unit-tested).
QUICK = RetryPolicy(attempts=3, first_delay_s=0.01)
ONE_TRY = RetryPolicy(attempts=1)
GOOD, VAL_FILES = imagenette_archive()


def assert_clear(message: str, url: str, *phrases: str) -> None:
    """A message for a person: names the URL and the override, says what failed, a few lines."""
    assert url in message and "QKATLAS_IMAGENETTE_URL" in message, message
    assert len(message.splitlines()) <= 4 and "Traceback" not in message, message
    for phrase in phrases:
        assert phrase in message, message


def assert_imagenette(val: Path) -> None:
    """The unpacked validation folder holds exactly the archive's photos, byte for byte, with names."""
    unpacked = {str(p.relative_to(val)): p.read_bytes() for p in val.rglob("*.JPEG")}
    assert unpacked == VAL_FILES
    labels = {item.label for item in open_image_source(val).items}
    assert labels == {IMAGENETTE_CLASSES[wnid] for wnid in VAL_CLASSES}


def leftovers(data_dir: Path) -> list[str]:
    """What a run left in the data folder besides a finished ``imagenette-val`` (kept .part files aside)."""
    return sorted(p.name for p in data_dir.iterdir() if p.name != "imagenette-val" and not p.name.endswith(".part"))


@pytest.mark.parametrize(
    ("what", "fault", "payload", "phrase", "keeps_part"),
    [
        ("URL answers 404", "404", GOOD, "404 Not Found", False),
        ("URL answers an HTML page (200)", "html", GOOD, "web page (Content-Type text/html)", False),
        ("URL answers 503 every time", "503", GOOD, "503 Service Unavailable, after 3 tries", False),
        ("body cut at 40 % every time", "cut", GOOD, f"of {len(GOOD):,} bytes", True),
        ("archive without val/", None, imagenette_archive(with_val=False)[0], "no val/ folder of class folders", False),
        ("truncated gzip (complete HTTP body)", None, GOOD[: len(GOOD) // 2], "damaged or not a gzip", False),
    ],
    ids=["404", "html-page", "503-outage", "truncated-body", "no-val-folder", "truncated-gzip"],
)
def test_each_failure_says_why_and_the_next_run_succeeds_once_it_is_gone(
    tmp_path: Path, faults: FaultRecorder, what: str, fault: str | None, payload: bytes, phrase: str, keeps_part: bool
) -> None:
    data = tmp_path / "data"
    with DownloadStandin(payload, always=fault) as server:
        with pytest.raises(DownloadError) as failure:
            fetch_imagenette(data, server.url, QUICK)
        assert_clear(str(failure.value), server.url, phrase)
        assert not (data / "imagenette-val").exists() and leftovers(data) == []
        assert bool(list(data.glob("*.part"))) == keeps_part
        server.always, server.payload = None, GOOD  # the cause is gone
        assert_imagenette(fetch_imagenette(data, server.url, QUICK))
        assert leftovers(data) == [] and not list(data.glob("*.part"))  # the archive is deleted once unpacked
    faults.record(
        fault=f"dataset download: {what}",
        injected=1,
        requests=len(server.seen),
        failures_seen=1,
        lost=0,
        produced=f"DownloadError naming the URL and QKATLAS_IMAGENETTE_URL ({phrase}); the next run succeeded",
    )


def test_a_cut_download_resumes_with_range_on_the_next_run(tmp_path: Path, faults: FaultRecorder) -> None:
    destination = tmp_path / "imagenette.tgz"
    with DownloadStandin(GOOD, faults=deque(["cut"])) as server:
        source = DownloadSource(server.url, "the Imagenette archive", "QKATLAS_IMAGENETTE_URL")
        with pytest.raises(DownloadError) as failure:
            download(source, destination, ONE_TRY)
        kept = partial_path(destination).stat().st_size
        assert kept == int(len(GOOD) * 0.4) > 0
        assert_clear(str(failure.value), server.url, f"got {kept:,} of {len(GOOD):,} bytes", "next run resumes")
        assert download(source, destination, ONE_TRY) == destination  # the next run
        assert [(r.range, r.status) for r in server.seen] == [(None, 200), (f"bytes={kept}-", 206)]
        assert server.seen[1].sent == len(GOOD) - kept  # only the missing bytes travelled again
    assert destination.read_bytes() == GOOD and not partial_path(destination).exists()
    faults.record(
        fault="dataset download cut at 40 %, resumed on the next run",
        injected=1,
        requests=len(server.seen),
        failures_seen=1,
        lost=0,
        produced=f"'got {kept:,} of {len(GOOD):,} bytes', the .part kept; the next run sent Range and finished",
    )


def test_a_cut_download_is_retried_within_the_run(tmp_path: Path, faults: FaultRecorder) -> None:
    """Cut once, then a 503: the same call resumes after backing off, and the photos arrive intact."""
    with DownloadStandin(GOOD, faults=deque(["cut", "503"])) as server:
        assert_imagenette(fetch_imagenette(tmp_path / "data", server.url, QUICK))
        kept = int(len(GOOD) * 0.4)
        assert [(r.range, r.status) for r in server.seen] == [
            (None, 200),
            (f"bytes={kept}-", 503),
            (f"bytes={kept}-", 206),
        ]
    faults.record(
        fault="dataset download cut at 40 % then a 503, within one run",
        injected=2,
        requests=len(server.seen),
        failures_seen=0,
        lost=0,
        produced="retried with backoff, resumed with Range; the run succeeded",
    )


def test_a_server_without_range_support_still_completes(tmp_path: Path, faults: FaultRecorder) -> None:
    destination = tmp_path / "imagenette.tgz"
    with DownloadStandin(GOOD, ranges=False, faults=deque(["cut"])) as server:
        source = DownloadSource(server.url, "the Imagenette archive", "QKATLAS_IMAGENETTE_URL")
        with pytest.raises(DownloadError):
            download(source, destination, ONE_TRY)
        kept = partial_path(destination).stat().st_size
        download(source, destination, ONE_TRY)
        # It asked for the rest; the server sent everything (200), which replaced the partial file.
        assert [(r.range, r.status, r.sent) for r in server.seen][1] == (f"bytes={kept}-", 200, len(GOOD))
    assert destination.read_bytes() == GOOD
    faults.record(
        fault="dataset download cut at 40 %, server ignores Range",
        injected=1,
        requests=len(server.seen),
        failures_seen=1,
        lost=0,
        produced="the next run downloaded the whole file again (200) and finished",
    )


def test_what_a_killed_run_left_does_not_break_the_next(tmp_path: Path, faults: FaultRecorder) -> None:
    """A run killed mid-unpack leaves an unpacking folder, or a target without its class-name mapping;
    a partial file longer than the file (the file changed on the server) is answered 416; a partial
    download from another address is not resumed from this one, and is cleared once this one is in."""
    data = tmp_path / "data"
    with DownloadStandin(GOOD) as server:
        (data / ".imagenette-unpacking" / "imagenette2-320" / "val").mkdir(parents=True)
        (data / "imagenette-val" / VAL_CLASSES[0]).mkdir(parents=True)
        (data / "imagenette-val" / VAL_CLASSES[0] / "half.JPEG").write_bytes(b"\xff\xd8")
        partial_path(imagenette_archive_path(data, server.url)).write_bytes(b"\0" * (len(GOOD) + 10))
        other_url = partial_path(imagenette_archive_path(data, "https://mirror.invalid/imagenette2-320.tgz"))
        other_url.write_bytes(GOOD[:100])  # a download from another address, never finished
        assert_imagenette(fetch_imagenette(data, server.url, QUICK))
        assert [r.status for r in server.seen] == [416, 200]
    assert leftovers(data) == [] and not list(data.glob("*.part"))
    faults.record(
        fault="half-written unpack folder and target, oversized .part, .part of another URL",
        injected=4,
        requests=len(server.seen),
        failures_seen=0,
        lost=0,
        produced="cleared and downloaded afresh; the run succeeded",
    )
