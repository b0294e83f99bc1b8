"""Downloads that finish or say why: one large file streamed over HTTP(S) to disk.

The bytes arrive in ``<name>.part`` beside the destination and are renamed to it only once their count
matches the server's ``Content-Length``. A download cut short (connection reset, a timeout, a body
shorter than announced) keeps its ``.part``: the next attempt asks for the rest with an HTTP ``Range``
request, within one run (transient failures are retried with exponential backoff) and on the next run.
A server that ignores ``Range`` (``200`` instead of ``206``) sends the whole file again, which then
replaces the partial one. Anything else (a 404, an HTML page instead of the file, retries exhausted)
ends in a ``DownloadError`` naming the URL, what went wrong and the environment variable that
overrides the URL.
"""

from __future__ import annotations

import http.client
import re
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tqdm import tqdm

from qkatlas.errors import ActionableError

#: HTTP statuses worth asking again for: the server is overloaded, restarting or rate-limiting.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)")


class DownloadError(ActionableError):
    """A download (or what it brought) that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries within one run; the wait before try ``n + 1`` is ``first_delay_s * 2**(n - 1)``."""

    attempts: int = 4
    first_delay_s: float = 1.0
    timeout_s: float = 30.0

    def delay_s(self, failed_attempts: int) -> float:
        return float(self.first_delay_s * 2 ** (failed_attempts - 1))


#: Four tries within a run, waiting 1, 2 and 4 s between them.
DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class ContentRange:
    """A ``206`` answer's ``Content-Range: bytes first-last/total`` (``total`` None for ``*``)."""

    first: int
    last: int
    total: int | None


def parse_content_range(header: str | None) -> ContentRange | None:
    """``bytes 100-199/1000`` → ContentRange(100, 199, 1000); None when absent or not of that form."""
    match = _CONTENT_RANGE.fullmatch((header or "").strip())
    if match is None:
        return None
    first, last, total = match.groups()
    return ContentRange(int(first), int(last), None if total == "*" else int(total))


def unsatisfied_range_total(header: str | None) -> int | None:
    """A ``416`` answer's ``Content-Range: bytes */total`` → total (the full file's size), else None."""
    match = _UNSATISFIED_RANGE.fullmatch((header or "").strip())
    return int(match.group(1)) if match else None


def partial_path(destination: Path) -> Path:
    """Where the bytes of ``destination`` accumulate until complete: ``<name>.part`` beside it."""
    return destination.with_name(destination.name + ".part")


@dataclass(frozen=True)
class DownloadSource:
    """What is being downloaded, for messages: ``what`` ("the Imagenette archive"), the URL, the
    environment variable that overrides it, and the first bytes every good file starts with (a gzip's
    ``1f 8b``), so that an error page served as ``200`` is refused before it is kept."""

    url: str
    what: str
    override_variable: str
    magic: bytes = b""

    def error(self, problem: str, advice: str = "") -> DownloadError:
        advice = advice or "Check the address (and your network)"
        return DownloadError(
            f"Could not get {self.what} from {self.url}: {problem}.\n"
            f"{advice}, or set {self.override_variable} to another copy's URL."
        )


class _Transient(Exception):
    """A failure worth another attempt: the download may resume from what it kept."""


def download(source: DownloadSource, destination: Path, retry: RetryPolicy = DEFAULT_RETRY) -> Path:
    """Download ``source.url`` to ``destination`` (resuming its ``.part`` if one exists); return it.

    An existing ``destination`` is taken as complete. Raises ``DownloadError`` when the file cannot be
    had; a partial file is then kept for the next run to resume.
    """
    if destination.is_file():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = partial_path(destination)
    for attempt in range(1, retry.attempts + 1):
        try:
            _attempt(source, part, retry.timeout_s)
        except _Transient as failure:
            if attempt < retry.attempts:
                delay = retry.delay_s(attempt)
                print(f"download of {source.url} interrupted ({failure}); retrying in {delay:g} s", file=sys.stderr)
                time.sleep(delay)
                continue
            kept = part.stat().st_size if part.is_file() else 0
            resume = f"The {kept:,} bytes received are kept in {part}; the next run resumes from them. " if kept else ""
            tries = f"{retry.attempts} tries" if retry.attempts > 1 else "one try"
            raise source.error(
                f"{failure}, after {tries}", f"{resume}If it keeps failing, check your network and the address"
            ) from None
        part.rename(destination)
        return destination
    raise AssertionError("unreachable: the last attempt returns or raises")


def _attempt(source: DownloadSource, part: Path, timeout_s: float) -> None:
    """One request: append the rest of the file to ``part``, or start it afresh; raise on failure."""
    kept = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(source.url, headers={"Range": f"bytes={kept}-"} if kept else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code == 416 and kept:
            _unsatisfiable_range(source, part, kept, error.headers.get("Content-Range"))
            return
        reason = f"the server answered {error.code} {error.reason}"
        if error.code in TRANSIENT_STATUSES:
            raise _Transient(reason) from None
        raise source.error(reason) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as error:
        cause = error.reason if isinstance(error, urllib.error.URLError) else error
        raise _Transient(f"could not connect ({cause})") from None
    with response:
        content_type = response.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
            raise source.error(
                f"the server answered with a web page (Content-Type {content_type}), not the file",
                "The address may point at a download page rather than the file itself; check it",
            )
        start, total = _where_the_body_starts(response, part, kept)
        _receive(source, response, part, start, total)


def _where_the_body_starts(response: http.client.HTTPResponse, part: Path, kept: int) -> tuple[int, int | None]:
    """The offset the body starts at (``kept`` for a fitting ``206``, else 0) and the full file's size."""
    length = response.headers.get("Content-Length")
    if response.status == 206:
        content_range = parse_content_range(response.headers.get("Content-Range"))
        if content_range is None or content_range.first != kept:
            part.unlink()
            sent = response.headers.get("Content-Range") or "no Content-Range"
            raise _Transient(f"asked for the bytes from {kept:,} on, the server sent {sent}; starting afresh")
        return kept, content_range.total
    return 0, int(length) if length is not None and length.isdigit() else None


def _receive(
    source: DownloadSource, response: http.client.HTTPResponse, part: Path, start: int, total: int | None
) -> None:
    """Stream the body into ``part`` from ``start`` on, with a progress bar; check the byte count."""
    first_chunk = response.read(_CHUNK) if start == 0 else b""
    if start == 0 and source.magic and not first_chunk.startswith(source.magic):
        raise source.error(
            f"what the server sent does not start like the expected file (first bytes {first_chunk[:8]!r})",
            "The address may point at an error page or another file; check it",
        )
    received = start
    with (
        open(part, "r+b" if start else "wb") as out,
        tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=f"downloading {source.what}"
        ) as bar,
    ):
        out.truncate(start)
        out.seek(start)
        try:
            received += _copy(source, first_chunk, response, out, bar)
        except (TimeoutError, ConnectionError, ssl.SSLError, http.client.IncompleteRead) as error:
            received = out.tell()
            raise _Transient(_short_read(received, total, error)) from None
    if total is not None and received != total:
        if received > total:
            part.unlink()
            raise source.error(f"got {received:,} bytes where {total:,} were announced; the partial file was deleted")
        raise _Transient(_short_read(received, total, None))


def _copy(
    source: DownloadSource, first_chunk: bytes, response: http.client.HTTPResponse, out: BinaryIO, bar: tqdm[Any]
) -> int:
    """Append the body to ``out``; return the bytes written. A read that fails raises as it is (the
    caller retries); a write that fails (a full disk) ends the download with what to do."""
    copied = 0
    chunk = first_chunk or response.read(_CHUNK)
    while chunk:
        try:
            out.write(chunk)
        except OSError as error:
            raise DownloadError(
                f"Could not write {out.name} while downloading {source.what} from {source.url}: {error.strerror}.\n"
                "Free some space there (or choose another data folder); the next run resumes from the bytes kept."
            ) from None
        bar.update(len(chunk))
        copied += len(chunk)
        chunk = response.read(_CHUNK)
    return copied


def _short_read(received: int, total: int | None, error: BaseException | None) -> str:
    of = f" of {total:,}" if total is not None else ""
    cause = f": {type(error).__name__}" if error is not None else ""
    return f"the connection ended early (got {received:,}{of} bytes{cause})"


def _unsatisfiable_range(source: DownloadSource, part: Path, kept: int, content_range: str | None) -> None:
    """A ``416``: the kept bytes are the whole file (then done), or more than it (then start afresh)."""
    total = unsatisfied_range_total(content_range)
    if total == kept:
        return
    part.unlink()
    raise _Transient(f"the partial file ({kept:,} bytes) did not fit the file on the server; starting afresh")


def local_file(url: str) -> Path | None:
    """The path a ``file://`` URL names (a copy already on this machine, used in place), else None."""
    parsed = urllib.parse.urlparse(url)
    return Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else None
