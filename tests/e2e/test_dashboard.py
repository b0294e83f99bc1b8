"""Browser tests of the dashboard against the real stack.

The session's atlases (a tiny random-init ViT and the planted-mode model, built by the precompute job
in ``tests/conftest.py``) are served by ``python -m backend`` with a real ``redis-server`` and the
production build of the dashboard; ``frontend/e2e/dashboard.test.mjs`` then drives Debian's Chromium
through playwright-core (browse, permalinks, uploads, keyboard, axe-core, 390 px) and saves a
screenshot of every page to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up within {timeout:.0f} s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def frontend_dist() -> Path:
    if not (FRONTEND / "node_modules").is_dir():
        pytest.skip("frontend dependencies are not installed (cd frontend && npm ci)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    dist = FRONTEND / "dist"
    if not (dist / "index.html").exists():
        subprocess.run(["npm", "run", "build"], cwd=FRONTEND, check=True, capture_output=True)
    return dist


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        _wait_until(answers, "redis-server", timeout=10)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def server(
    atlas_root: Path, redis_url: str, frontend_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("backend") / "backend.log"
    command = [
        sys.executable,
        "-m",
        "backend",
        "--atlas-dir",
        str(atlas_root),
        "--port",
        str(port),
        "--redis-url",
        redis_url,
        "--frontend-dist",
        str(frontend_dist),
        "--device",
        "cpu",
        "--log-level",
        "warning",
    ]
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the backend exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2) as response:
                return bool(json.load(response)["redis"] == "ok")
        except OSError:
            return False

    try:
        _wait_until(healthy, "the backend with Redis")
        yield base
    finally:
        _stop(process)


def test_dashboard_end_to_end(server: str, photo_dir: Path) -> None:
    photo = photo_dir / "chelsea.jpg"
    assert photo.exists()
    env = {
        **os.environ,
        "QKATLAS_URL": server,
        "QKATLAS_PHOTO": str(photo),
        "QKATLAS_SCREENSHOTS": str(SCREENSHOTS),
        "CHROMIUM_PATH": CHROMIUM,
    }
    result = subprocess.run(
        ["node", "--test", "--test-reporter=spec", "e2e/dashboard.test.mjs"],
        cwd=FRONTEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "# fail 0" in report or "ℹ fail 0" in report, report
    assert sorted(p.name for p in SCREENSHOTS.glob("*.png")), "no screenshots were saved"
