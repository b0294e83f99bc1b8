"""A real ``python -m backend`` process on a free port, read with the standard library's HTTP client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.backend import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    #: Names in lower case.
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


class Service:
    """``python -m backend`` on a free port, re-listing its folder every 0.2 s; with ``workers`` processes,
    ``env`` (``QKATLAS_*`` settings) added to the environment, and, with ``hold_dir``, its analyses held on
    a gate there (``tests.helpers.held_backend``)."""

    def __init__(
        self,
        atlas_dir: Path,
        redis_url: str | None,
        log: Path,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
        hold_dir: Path | None = None,
    ) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        module = "backend" if hold_dir is None else "tests.helpers.held_backend"
        command = [sys.executable, "-m", module, "--atlas-dir", str(atlas_dir), "--port", self.url.rsplit(":")[-1]]
        command += ["--atlas-poll-s", "0.2", "--device", "cpu", "--log-level", "warning", "--workers", str(workers)]
        command += ["--redis-url", redis_url] if redis_url else []
        environment = {**os.environ, **(env or {})}
        if hold_dir is not None:
            environment["QKATLAS_TEST_HOLD_DIR"] = str(hold_dir)
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=environment, start_new_session=True
            )
        wait_for(lambda: self._answers(), timeout_s=120, what=f"the service to start; log:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text()[-3000:]

    def _answers(self) -> bool:
        assert self.process.poll() is None, self.log_text()
        try:
            return self.get("/api/health").status == 200
        except OSError:
            return False

    def get(self, path: str, *, timeout_s: float = 30) -> Reply:
        return self._send(urllib.request.Request(self.url + path), timeout_s)

    @staticmethod
    def _send(request: urllib.request.Request, timeout_s: float) -> Reply:
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return Reply(response.status, response.read(), {k.lower(): v for k, v in response.headers.items()})
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read(), {k.lower(): v for k, v in error.headers.items()})

    def upload(self, data: bytes) -> str:
        reply = self.post_upload(data)
        assert reply.status == 201, reply
        upload_id: str = reply.json()["id"]
        return upload_id

    def post_upload(self, data: bytes, *, timeout_s: float = 30) -> Reply:
        boundary = "qkatlas-test-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\n'
                f"Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            self.url + "/api/uploads", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        return self._send(request, timeout_s)

    def revisions(self) -> dict[str, str]:
        return {model["slug"]: model["revision"] for model in self.get("/api/models").json()}

    def stop(self) -> None:
        """Stop the service and its workers: gracefully, or killed after 30 s (a worker still busy on a
        loaded machine; the test is over either way)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the workers go with it
            self.process.wait(timeout=30)
