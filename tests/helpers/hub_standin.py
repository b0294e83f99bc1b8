"""A local stand-in for the Hugging Face model hub, for tests that must not reach the real one.

``HubStandIn`` serves repositories of files (folders written with ``save_pretrained``) the way
``huggingface_hub`` downloads them, at ``HF_ENDPOINT=hub.url``:

- ``HEAD``/``GET /{repo}/resolve/{revision}/{file}``: the file, with the headers ``hf_hub_download``
  needs (``X-Repo-Commit``: the commit the revision resolves to; ``ETag``: the file's sha256;
  ``Content-Length``); 404 with ``X-Error-Code`` ``RepoNotFound`` / ``RevisionNotFound`` /
  ``EntryNotFound`` as the hub answers them;
- ``GET /api/models/{repo}[/revision/{revision}]``: the repository's info (``sha``, ``siblings``).

Each repository has a history of commits (``add_commit``: the newest becomes ``main``) and tags
(``tag``), so that tests can move ``main`` and pin an older commit. The hub can be switched into a
failure mode (``HubMode``): every hub request answered 404 (repository missing), 503 (outage), 200
with an HTML page and no hub headers (a proxy that is not a hub), or no server at all (connection
refused, the port kept for ``set_mode`` back to ``ok``). Files added with ``add_file`` are served at
``/files/{name}`` whatever the mode (a stand-in dataset download). ``requests`` lists every request
(``"HEAD /path"``), in order.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlparse

#: An HTTP answer: status, headers, body.
_Response = tuple[int, dict[str, str], bytes]

_PROXY_PAGE = b"<html><body><h1>Welcome to the corporate network</h1>Please log in.</body></html>"


class HubMode(Enum):
    """How the stand-in answers hub requests."""

    OK = "ok"
    REPO_MISSING = "repository 404"
    OUTAGE = "503 outage"
    NOT_A_HUB = "a proxy that is not a hub"
    REFUSED = "connection refused"


@dataclass
class _Repo:
    """Commits oldest first, each a file name → content map; ``tags``: tag name → commit."""

    commits: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> tuple[str, dict[str, bytes]] | None:
        if revision == "main" and self.commits:
            return self.commits[-1]
        revision = self.tags.get(revision, revision)
        return next(((sha, files) for sha, files in self.commits if sha == revision), None)


class HubStandIn:
    """A threaded HTTP server standing in for the model hub (see the module docstring).

    Use as a context manager, or ``start()``/``stop()``; ``url`` is what ``HF_ENDPOINT`` must be.
    """

    def __init__(self) -> None:
        self.repos: dict[str, _Repo] = {}
        self.files: dict[str, bytes] = {}
        self.mode = HubMode.OK
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- content ----------------------------------------------------------------------------------

    def add_commit(self, repo_id: str, folder: Path) -> str:
        """Commit every file of ``folder`` (recursively) to ``repo_id``; it becomes ``main``. Returns the
        commit's 40-hex hash (a function of the repository, its commit count and the files)."""
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        repo = self.repos.setdefault(repo_id, _Repo())
        digest = hashlib.sha1(f"{repo_id}:{len(repo.commits)}".encode())
        for name, content in files.items():
            digest.update(name.encode() + hashlib.sha256(content).digest())
        sha = digest.hexdigest()
        repo.commits.append((sha, files))
        return sha

    def tag(self, repo_id: str, name: str, commit: str) -> None:
        """Tag ``commit`` of ``repo_id`` as ``name`` (a revision that stays while main moves)."""
        self.repos[repo_id].tags[name] = commit

    def add_file(self, name: str, content: bytes) -> str:
        """Serve ``content`` at ``/files/{name}`` in every mode; returns its URL."""
        self.files[name] = content
        return f"{self.url}/files/{name}"

    def hub_requests(self) -> list[str]:
        """The requests made to the hub (not to ``/files/``)."""
        return [r for r in self.requests if not r.split(" ", 1)[1].startswith("/files/")]

    def file_requests(self, name: str) -> list[str]:
        return [r for r in self.requests if r.split(" ", 1)[1] == f"/files/{name}"]

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> HubStandIn:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def set_mode(self, mode: HubMode) -> None:
        """Switch the failure mode; ``REFUSED`` closes the port, any other mode reopens it."""
        self.mode = mode
        if mode is HubMode.REFUSED:
            self.stop()
        elif self._server is None:
            self.start()

    def __enter__(self) -> HubStandIn:
        return self.start()

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- answers ----------------------------------------------------------------------------------

    def answer(self, method: str, path: str) -> _Response:
        """Status, headers and body for one request (the body is dropped for ``HEAD``)."""
        with self._lock:
            self.requests.append(f"{method} {path}")
        if path.startswith("/files/"):
            content = self.files.get(path.removeprefix("/files/"))
            if content is None:
                return 404, {"Content-Type": "text/plain"}, b"no such file"
            return 200, {"Content-Type": "application/octet-stream"}, content
        if self.mode is HubMode.OUTAGE:
            return 503, {"Content-Type": "text/plain", "Retry-After": "1"}, b"Service Unavailable"
        if self.mode is HubMode.NOT_A_HUB:
            return 200, {"Content-Type": "text/html"}, _PROXY_PAGE
        if path.startswith("/api/models/"):
            return self._api(path.removeprefix("/api/models/"))
        if "/resolve/" in path:
            repo_id, _, rest = path.lstrip("/").partition("/resolve/")
            revision, _, filename = rest.partition("/")
            return self._resolve(repo_id, unquote(revision), filename)
        return 404, {"Content-Type": "text/plain"}, b"not found"

    def _commit(self, repo_id: str, revision: str) -> tuple[str, dict[str, bytes]]:
        """``(sha, files)`` of ``revision`` in ``repo_id``; ``_Refused`` with the hub's 404 answer."""
        repo = None if self.mode is HubMode.REPO_MISSING else self.repos.get(repo_id)
        if repo is None:
            raise _Refused(_error(404, "RepoNotFound", "Repository not found"))
        commit = repo.resolve(revision)
        if commit is None:
            raise _Refused(_error(404, "RevisionNotFound", "Invalid rev id"))
        return commit

    def _resolve(self, repo_id: str, revision: str, filename: str) -> _Response:
        try:
            sha, files = self._commit(repo_id, revision)
        except _Refused as refused:
            return refused.response
        content = files.get(filename)
        if content is None:
            status, headers, body = _error(404, "EntryNotFound", "Entry not found")
            return status, {**headers, "X-Repo-Commit": sha}, body
        etag = hashlib.sha256(content).hexdigest()
        headers = {"Content-Type": "application/octet-stream", "X-Repo-Commit": sha, "ETag": f'"{etag}"'}
        return 200, headers, content

    def _api(self, rest: str) -> _Response:

        parts = rest.split("/")
        repo_id, revision = "/".join(parts[:2]), "main"
        if len(parts) >= 4 and parts[2] == "revision":
            revision = unquote("/".join(parts[3:]))
        try:
            sha, files = self._commit(repo_id, revision)
        except _Refused as refused:
            return refused.response
        info = {"id": repo_id, "modelId": repo_id, "sha": sha, "siblings": [{"rfilename": name} for name in files]}
        return 200, {"Content-Type": "application/json"}, json.dumps(info).encode()


class _Refused(Exception):
    """The hub's answer instead of a commit (no such repository or revision)."""

    def __init__(self, response: _Response) -> None:
        super().__init__(response[0])
        self.response = response


def _error(status: int, code: str, message: str) -> _Response:
    return status, {"Content-Type": "text/plain", "X-Error-Code": code, "X-Error-Message": message}, message.encode()


def _handler_for(hub: HubStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, send_body: bool) -> None:
            status, headers, body = hub.answer(self.command, urlparse(self.path).path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self._reply(send_body=False)

        def do_GET(self) -> None:
            self._reply(send_body=True)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test reads hub.requests

    return Handler
