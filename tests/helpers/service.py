"""A real ``python -m backend`` process on a free port, read with the standard library's HTTP client."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.backend import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Service:
    """``python -m backend`` on a free port, re-listing its folder every 0.2 s."""

    def __init__(self, atlas_dir: Path, redis_url: str | None, log: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        command = [sys.executable, "-m", "backend", "--atlas-dir", str(atlas_dir), "--port", self.url.rsplit(":")[-1]]
        command += ["--atlas-poll-s", "0.2", "--device", "cpu", "--log-level", "warning"]
        command += ["--redis-url", redis_url] if redis_url else []
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        wait_for(lambda: self._answers(), timeout_s=120, what=f"the service to start; log:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text()[-3000:]

    def _answers(self) -> bool:
        assert self.process.poll() is None, self.log_text()
        try:
            return self.get("/api/health").status == 200
        except OSError:
            return False

    def get(self, path: str) -> Reply:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as response:
                return Reply(response.status, response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read())

    def upload(self, data: bytes) -> str:
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
        with urllib.request.urlopen(request, timeout=30) as response:
            upload_id: str = json.loads(response.read())["id"]
        return upload_id

    def revisions(self) -> dict[str, str]:
        return {model["slug"]: model["revision"] for model in self.get("/api/models").json()}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
