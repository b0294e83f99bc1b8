"""The Compose deployment: the file validates, and the commands its containers run work natively.

No Docker engine runs on our machines, so ``docker-compose config`` (Debian's docker-compose) checks
the file, and the backend and precompute commands are run here with the container paths mapped to
local ones.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from qkatlas.atlas import find_atlases

REPO = Path(__file__).resolve().parents[2]


def _compose_config(*files: str) -> dict[str, Any]:
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is not installed (apt-get install docker-compose); .ci/run installs it")
    args = ["docker-compose", *(arg for f in files for arg in ("-f", f)), "config"]
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_files_validate_with_health_checks_and_no_secrets() -> None:
    config = _compose_config("docker-compose.yml")
    services = config["services"]
    assert set(services) == {"redis", "backend", "frontend", "precompute"}
    for name in ("redis", "backend", "frontend"):
        assert "healthcheck" in services[name], name
    assert services["precompute"]["profiles"] == ["precompute"]
    for service in services.values():
        for key in service.get("environment", {}):
            assert not any(word in key.upper() for word in ("PASSWORD", "SECRET", "TOKEN", "KEY")), key
    gpu = _compose_config("docker-compose.yml", "docker-compose.gpu.yml")["services"]["backend"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_containers_commands_run_natively(tmp_path: Path, planted_image_dir: Path) -> None:
    services = _compose_config("docker-compose.yml")["services"]
    out = tmp_path / "atlases"
    local = {"/atlases": str(out), "/images": str(planted_image_dir), "redis://redis:6379/0": "redis://127.0.0.1:9/0"}
    precompute = [local.get(arg, arg) for arg in services["precompute"]["command"]]
    precompute[precompute.index("--model") + 1] = "planted"  # the default model needs the hub
    assert precompute[:3] == ["python", "-m", "precompute"]
    job = subprocess.run(
        [sys.executable, *precompute[1:], "--no-progress"], capture_output=True, text=True, timeout=600
    )
    assert job.returncode == 0, job.stderr  # an unreachable progress Redis does not stop the job
    atlases, failures = find_atlases(out)
    assert len(atlases) == 1 and not failures

    port = _free_port()
    backend = [local.get(arg, arg) for arg in services["backend"]["command"]]
    backend[backend.index("--port") + 1] = str(port)
    backend[backend.index("--host") + 1] = "127.0.0.1"
    process = subprocess.Popen([sys.executable, *backend[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/models", timeout=2) as response:
                    assert response.status == 200
                    assert b"planted" in response.read()
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                assert time.monotonic() < deadline, "the backend did not come up"
                time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)
