"""A local stand-in for the dataset download server, with the failures real ones have.

``DownloadStandin`` serves one file (by default a small Imagenette-shaped ``.tgz``, built by
``imagenette_archive``) over HTTP on 127.0.0.1, with ``Range`` support that can be switched off, and
breaks answers on request: ``faults`` is a queue of faults for the next requests, one each, and
``always`` a fault for every request while set. Faults:

- ``"404"``: 404 Not Found;
- ``"html"``: 200 with an HTML error page (``text/html``), as captive portals and some CDNs answer;
- ``"503"``: 503 Service Unavailable;
- ``"cut"``: the right status and ``Content-Length``, then 40 % of the body, then the connection closed.

Every request is recorded in ``seen`` (its ``Range`` header and the status and bytes sent), so a test
can check that a resumed download asked for exactly the bytes it lacked.
"""

from __future__ import annotations

import io
import re
import tarfile
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import numpy as np
from PIL import Image

ARCHIVE_NAME = "imagenette2-320.tgz"
CUT_FRACTION = 0.4
#: Two of Imagenette's classes, three photos each: what ``imagenette_archive`` puts in ``val/``.
VAL_CLASSES = ("n01440764", "n03888605")


def imagenette_archive(*, with_val: bool = True, images_per_class: int = 3) -> tuple[bytes, dict[str, bytes]]:
    """A gzip'd tar shaped like ``imagenette2-320.tgz`` (``imagenette2-320/{train,val}/<wnid>/<x>.JPEG``);
    without ``val/`` when ``with_val`` is False. Returns the archive and ``{path below val/: JPEG bytes}``.

    The photos are noise, so that the archive does not compress to a few hundred bytes and a cut at
    40 % falls in the middle of the data.
    """
    rng = np.random.default_rng(0)
    val_files: dict[str, bytes] = {}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for split in ("train", "val") if with_val else ("train",):
            for wnid in VAL_CLASSES:
                for index in range(images_per_class):
                    photo = io.BytesIO()
                    pixels = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
                    Image.fromarray(pixels).save(photo, format="JPEG", quality=95)
                    name = f"{wnid}/{wnid}_{split}_{index}.JPEG"
                    info = tarfile.TarInfo(f"imagenette2-320/{split}/{name}")
                    info.size = photo.tell()
                    tar.addfile(info, io.BytesIO(photo.getvalue()))
                    if split == "val":
                        val_files[name] = photo.getvalue()
        notes = b"path,label\n"
        info = tarfile.TarInfo("imagenette2-320/noisy_imagenette.csv")
        info.size = len(notes)
        tar.addfile(info, io.BytesIO(notes))
    return buffer.getvalue(), val_files


@dataclass(frozen=True)
class SeenRequest:
    """One request as the stand-in saw it: its ``Range`` header, and the status and body bytes sent."""

    range: str | None
    status: int
    sent: int


@dataclass
class DownloadStandin:
    """The server; use as a context manager. ``url`` is the file's address while it runs."""

    payload: bytes
    ranges: bool = True
    faults: deque[str] = field(default_factory=deque)
    always: str | None = None
    seen: list[SeenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{ARCHIVE_NAME}"

    def __enter__(self) -> DownloadStandin:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def next_fault(self) -> str | None:
        return self.faults.popleft() if self.faults else self.always


def _handler(standin: DownloadStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fault = standin.next_fault()
            asked = self.headers.get("Range")
            if fault in ("404", "503"):
                self._answer(int(fault), b"no such file\n" if fault == "404" else b"try again later\n", "text/plain")
            elif fault == "html":
                self._answer(200, b"<!doctype html><html><body><h1>Sign in to continue</h1></body></html>", "text/html")
            else:
                self._file(asked, cut=fault == "cut")

        def _file(self, asked: str | None, *, cut: bool) -> None:
            payload = standin.payload
            start = _range_start(asked) if standin.ranges else None
            if start is not None and start >= len(payload):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(payload)}")
                self.send_header("Content-Length", "0")
                standin.seen.append(SeenRequest(asked, 416, 0))
                self.end_headers()
                return
            status = 206 if start is not None else 200
            body = payload[start or 0 :]
            self.send_response(status)
            self.send_header("Content-Type", "application/x-gzip")
            self.send_header("Content-Length", str(len(body)))
            if start is not None:
                self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
            self.end_headers()
            sent = body[: int(len(body) * CUT_FRACTION)] if cut else body
            standin.seen.append(SeenRequest(asked, status, len(sent)))  # before the client can read it
            self.wfile.write(sent)
            self.wfile.flush()
            self.close_connection = True

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            standin.seen.append(SeenRequest(self.headers.get("Range"), status, len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    return Handler


def _range_start(header: str | None) -> int | None:
    """``bytes=N-`` → N (the only form a resuming download sends); None without a Range header."""
    match = re.fullmatch(r"bytes=(\d+)-", (header or "").strip())
    return int(match.group(1)) if match else None
