"""The downloader's pure parts: reading ``Content-Range``, the backoff, where partial bytes and local
copies live. (The downloader against a server that fails: tests/faults/test_dataset_download.py.)"""

from __future__ import annotations

from pathlib import Path

from quickstart.download import (
    ContentRange,
    DownloadSource,
    RetryPolicy,
    local_file,
    parse_content_range,
    partial_path,
    unsatisfied_range_total,
)


def test_content_range_of_a_partial_answer() -> None:
    assert parse_content_range("bytes 100-199/1000") == ContentRange(100, 199, 1000)
    assert parse_content_range(" bytes 0-0/1 ") == ContentRange(0, 0, 1)
    assert parse_content_range("bytes 5-9/*") == ContentRange(5, 9, None)  # size unknown to the server
    for malformed in (None, "", "bytes */1000", "items 1-2/3", "bytes 1-2"):
        assert parse_content_range(malformed) is None


def test_content_range_of_an_unsatisfiable_range() -> None:
    assert unsatisfied_range_total("bytes */1000") == 1000
    for other in (None, "bytes 0-9/1000", "bytes */*"):
        assert unsatisfied_range_total(other) is None


def test_backoff_doubles_from_the_first_delay() -> None:
    policy = RetryPolicy(attempts=4, first_delay_s=1.5)
    assert [policy.delay_s(failed) for failed in (1, 2, 3)] == [1.5, 3.0, 6.0]


def test_partial_bytes_live_beside_the_destination() -> None:
    assert partial_path(Path("/data/imagenette.tgz")) == Path("/data/imagenette.tgz.part")


def test_a_file_url_names_a_local_copy() -> None:
    assert local_file("file:///srv/data/imagenette%202.tgz") == Path("/srv/data/imagenette 2.tgz")
    assert local_file("https://example.org/imagenette.tgz") is None


def test_an_error_names_the_url_the_problem_and_the_override() -> None:
    source = DownloadSource("https://example.org/a.tgz", "the archive", "QKATLAS_IMAGENETTE_URL")
    lines = str(source.error("the server answered 404 Not Found")).splitlines()
    assert lines == [
        "Could not get the archive from https://example.org/a.tgz: the server answered 404 Not Found.",
        "Check the address (and your network), or set QKATLAS_IMAGENETTE_URL to another copy's URL.",
    ]
