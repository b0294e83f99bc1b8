"""The Compose deployment: the file validates, and what its containers run works natively.

No Docker engine runs on our machines, so ``docker-compose config`` (Debian's docker-compose) checks
the file, and the backend and precompute commands, and nginx with the frontend container's config
(deploy/nginx.conf, rendered by deploy/native.py as the official image's entrypoint renders it), are run here with the
container paths mapped to local ones. The backend runs the Compose command as it is, ``--workers``
included.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from PIL import Image

from backend.api.security import security_headers
from backend.services.page_meta import HEAD_PLACEHOLDER
from deploy.native import CONTAINER_CACHE_DIR, write_nginx_config
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
    assert "--workers" in services["backend"]["command"]
    assert f"nginx-cache:{CONTAINER_CACHE_DIR}" in " ".join(services["frontend"]["volumes"])
    # Redis keeps what it acknowledged across a restart (the fault suite runs it with these options).
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes"
    assert "redis-data:/data" in " ".join(services["redis"]["volumes"]) and "redis-data" in config["volumes"]
    # Shared lists outlive the container: their database is on a named volume mounted where it lives.
    lists_folder = str(Path(services["backend"]["environment"]["QKATLAS_LISTS_DB"]).parent)
    assert f"lists:{lists_folder}:rw" in services["backend"]["volumes"]
    assert "lists" in config["volumes"]
    assert services["frontend"]["environment"]["BACKEND_UPSTREAM"] == "backend:8000"
    gpu = _compose_config("docker-compose.yml", "docker-compose.gpu.yml")["services"]["backend"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[bytes], what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None:
            detail = log.read_text() if log is not None and log.exists() else ""
            if process.stderr is not None:
                detail += process.stderr.read().decode()
            pytest.fail(f"{what} exited during startup:\n{detail}")
        assert time.monotonic() < deadline, f"{what} did not come up"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def compose_backend(tmp_path_factory: pytest.TempPathFactory, planted_image_dir: Path) -> Iterator[int]:
    """The precompute container's command (planted model) and then the backend container's command,
    run natively; yields the backend's port."""
    services = _compose_config("docker-compose.yml")["services"]
    out = tmp_path_factory.mktemp("compose") / "atlases"
    local = {"/atlases": str(out), "/images": str(planted_image_dir), "redis://redis:6379/0": "redis://127.0.0.1:9/0"}
    # The lists database where the Compose environment puts it, under a local folder.
    lists_db = services["backend"]["environment"]["QKATLAS_LISTS_DB"]
    env = {**os.environ, "QKATLAS_LISTS_DB": str(out.parent / lists_db.lstrip("/"))}
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
    process = subprocess.Popen(
        [sys.executable, *backend[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/api/health", process, "the backend")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_containers_commands_run_natively(compose_backend: int) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{compose_backend}/api/models", timeout=10) as response:
        assert response.status == 200
        assert b"planted" in response.read()


@pytest.fixture
def compose_nginx(tmp_path: Path, compose_backend: int) -> Iterator[str]:
    """nginx with the frontend container's config in front of the backend; yields its base URL."""
    if shutil.which("nginx") is None:
        pytest.fail("nginx is not installed (apt-get install nginx); .ci/run installs it")
    html = tmp_path / "html"  # a stand-in for the built dashboard (the integration tier runs before the build)
    (html / "assets").mkdir(parents=True)
    (html / "index.html").write_text(
        f"<!doctype html><html><head>{HEAD_PLACEHOLDER}</head><body><div id=root>dashboard-index</div></body></html>"
    )
    (html / "assets" / "index-0123abcd.js").write_text("export const modes = [];\n" * 200)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    port = _free_port()
    frontend = _compose_config("docker-compose.yml")["services"]["frontend"]
    # The upstream the frontend container is given is what the image substitutes; here it is local.
    assert frontend["environment"]["BACKEND_UPSTREAM"] == "backend:8000"
    command = write_nginx_config(prefix, port=port, backend_upstream=f"127.0.0.1:{compose_backend}", html=html)
    error_log = prefix / "error.log"
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/", process, "nginx", error_log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _body(page: str) -> str:
    """The app page without its head (whose link-preview tags are the address's own)."""
    return page.split("</head>", 1)[1]


def test_nginx_serves_the_dashboard_and_caches_atlas_answers(compose_nginx: str, compose_backend: int) -> None:
    identity = {"Accept-Encoding": "identity"}
    with httpx.Client(base_url=compose_nginx, timeout=60) as http:
        # The dashboard, with the app page for deep links; index.html is always asked again. An address
        # that names nothing gets the same page with 404, as the backend says (GET /api/pages/...).
        index = http.get("/", headers=identity)
        assert index.status_code == 200 and "dashboard-index" in index.text
        assert index.headers["cache-control"] == "no-cache"
        deep = http.get("/m/planted/L0/H0/M0?sign=neg", headers=identity)
        assert deep.status_code == 200 and _body(deep.text) == _body(index.text)
        for missing in ("/m/planted/L99/H0/M0", "/m/resnet", "/classes/no-such-class", "/nowhere"):
            answer = http.get(missing, headers=identity)
            assert (missing, answer.status_code) == (missing, 404) and _body(answer.text) == _body(index.text)
        # A shared list's page exists once the list does (nginx asks the backend, which asks the lists store).
        list_page = f"/lists/{'a' * 26}"
        assert http.get(list_page, headers=identity).status_code == 404
        mode = {"model": "planted", "layer": 0, "head": 0, "mode": 0}
        created = http.post("/api/lists", json={"title": "Through nginx", "modes": [mode]})
        assert created.status_code == 201, created.text
        shared = http.get(f"/lists/{created.json()['id']}", headers=identity)
        assert shared.status_code == 200 and _body(shared.text) == _body(index.text)
        assert "<title>Through nginx · qkatlas</title>" in shared.text  # the list's own link preview
        asset = http.get("/assets/index-0123abcd.js", headers={"Accept-Encoding": "gzip"})
        assert asset.status_code == 200 and asset.headers["content-encoding"] == "gzip"
        assert "immutable" in asset.headers["cache-control"]
        assert http.get("/assets/missing.js").status_code == 404

        # A mode page (no ?v=): MISS, then served from the cache, with the backend's body.
        slug = http.get("/api/models").json()[0]["slug"]
        url = f"/api/models/{slug}/layers/0/heads/0/modes/0?sign=pos"
        direct = httpx.get(f"http://127.0.0.1:{compose_backend}{url}", headers=identity, timeout=60)
        first = http.get(url, headers=identity)
        second = http.get(url, headers=identity)
        assert first.status_code == second.status_code == 200
        assert first.headers["x-cache-status"] == "MISS"
        # HIT within the 5 s it is kept; past it (a stalled machine) still from the cache, revalidated.
        assert second.headers["x-cache-status"] in {"HIT", "REVALIDATED", "STALE", "UPDATING"}
        assert first.content == second.content == direct.content
        assert first.headers.get("cache-control") == direct.headers.get("cache-control")  # passed on as sent

        # JSON is compressed for a client that accepts it, and decompresses to the same answer.
        zipped = http.get(url, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["vary"]
        assert zipped.content == direct.content  # httpx decompressed it

        # A pinned overlay (?v=): immutable at the backend, so kept for good.
        overlay = first.json()["top_images"][0]["overlay_url"]
        assert "v=" in overlay
        pinned = [http.get(overlay) for _ in range(2)]
        assert [r.headers["x-cache-status"] for r in pinned] == ["MISS", "HIT"]
        assert pinned[0].content == pinned[1].content and pinned[0].content.startswith(b"\x89PNG")
        assert "immutable" in pinned[1].headers["cache-control"]

        # Uploads and what is derived from them are never cached: every request reaches the backend.
        data = _png(0)
        for _ in range(2):
            upload = http.post("/api/uploads", files={"file": ("noise.png", data, "image/png")})
            assert upload.status_code == 201, upload.text
            assert upload.headers.get("x-cache-status", "none") in {"none", "BYPASS", "MISS"}
        seen = f"/api/uploads/{upload.json()['id']}/models/{slug}/image.png"
        for _ in range(2):
            image = http.get(seen)
            assert image.status_code == 200 and image.headers["cache-control"].startswith("private")
            assert image.headers.get("x-cache-status", "none") in {"none", "BYPASS", "MISS"}

        # Bodies over the upload limit are refused here, as JSON like the backend's own errors.
        too_large = http.post("/api/uploads", files={"file": ("big.png", b"\0" * (12 << 20), "image/png")})
        assert too_large.status_code == 413 and "too large" in too_large.json()["detail"]


def test_nginx_serves_the_backends_link_preview_tags_and_security_headers(
    compose_nginx: str, compose_backend: int
) -> None:
    """The page nginx serves has the tags the backend writes (into its own app page, or here for nginx's
    SSI): the same bytes but for the origin they name; every answer has the backend's security headers."""
    backend = f"http://127.0.0.1:{compose_backend}"
    with httpx.Client(base_url=compose_nginx, timeout=60) as http:
        slug = http.get("/api/models").json()[0]["slug"]
        label = http.get("/api/classes").json()["classes"][0]["label"]
        addresses = [
            "/",
            f"/m/{slug}",
            f"/m/{slug}/modes",
            f"/m/{slug}/L0/H1",
            f"/m/{slug}/L0/H1/M2?sign=neg&basis=exact",
            f"/classes/{label}",
            "/classes",
            "/search?q=%3Cb%3E%22%26",
            "/nowhere",
        ]
        for address in addresses:
            page = http.get(address)
            assert page.headers["content-type"] == "text/html; charset=utf-8", address
            head = page.text.split("<head>", 1)[1].split("</head>", 1)[0]
            expected = httpx.get(f"{backend}/api/page-head{address}", timeout=60).text
            assert head == expected.replace(backend, compose_nginx), address
            assert "<title>" in head and 'property="og:image"' in head
        # The preview of a mode through nginx: a 1200 × 630 PNG, cached for good (pinned to the revision).
        mode = http.get(f"/m/{slug}/L0/H1/M2").text
        image = mode.split('property="og:image" content="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        assert image.startswith(f"{compose_nginx}/api/models/{slug}/") and "v=" in image
        previews = [http.get(image.removeprefix(compose_nginx)) for _ in range(2)]
        assert [r.headers["x-cache-status"] for r in previews] == ["MISS", "HIT"]
        assert Image.open(io.BytesIO(previews[1].content)).size == (1200, 630)

        # Security headers: nginx's and the backend's agree, on pages, files, API answers and errors alike.
        for address in [
            "/",
            "/index.html",
            "/assets/index-0123abcd.js",
            "/assets/missing.js",
            f"/m/{slug}/L0/H0/M0?embed=1",
            f"/m/{slug}/L0/H0?embed=1",
            f"/m/{slug}/L0/H0/M0",
            "/lists/abc?embed=1",
            "/nowhere?embed=1",
            f"/api/models/{slug}",
            "/api/models/nope",
            "/api/docs",
            "/api/docs/assets/swagger-ui.css",
            image.removeprefix(compose_nginx),
        ]:
            response = http.get(address)
            path, _, query = address.partition("?")
            for name, value in security_headers(path, query).items():
                assert response.headers.get_list(name) == [value], (address, name)
            assert "x-frame-options" not in response.headers
        too_large = http.post("/api/uploads", files={"file": ("big.png", b"\0" * (12 << 20), "image/png")})
        assert too_large.status_code == 413 and too_large.headers["x-content-type-options"] == "nosniff"
