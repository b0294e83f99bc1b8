"""Browser tests of the dashboard against the real stack.

The session's atlases (a tiny random-init ViT and the planted-mode model, built by the precompute job
in ``tests/conftest.py``; the planted one given odd-one-out results by ``precompute o3`` over the
synthetic O3 set) are served by ``python -m backend`` with a real ``redis-server`` and the production
build of the dashboard. A running precompute job is reported into that Redis the way the job reports
it. The files ``frontend/e2e/*.test.mjs`` then drive Debian's Chromium through playwright-core (browse,
permalinks, uploads, keyboard, chart downloads, progress, odd-one-out curves, search, the mode index,
class pages, score distributions, axe-core, 390 px; the API docs with other hosts blocked and gzip in
``api.test.mjs``) and save a screenshot of every page to ``artifacts/screenshots/``.
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
from typing import NoReturn

import pytest

from precompute.cli import main as precompute_main
from qkatlas.atlas import Atlas
from qkatlas.progress import RedisProgress
from tests.helpers.atlases import TINY_OVERRIDES, TINY_VIT, build_atlas
from tests.helpers.o3_images import write_synthetic_o3

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
#: The running job reported into Redis for the progress panel (model id, dataset).
FAKE_JOB = ("planted", "e2e-progress")
#: A two-model job reported next to it: the first model done, the second queued (model ids, dataset).
FAKE_MULTI_MODEL_JOB = (("planted-first", "planted-second"), "e2e-multi")
#: The dataset (image folder) of a job that finished after the service started: its atlas appears live.
FINISHED_JOB_DATASET = "e2e-finished"
#: The dataset of an atlas built without per-mode statistics.
NO_STATISTICS_DATASET = "e2e-no-statistics"


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


def _missing(reason: str) -> NoReturn:
    """Skip for want of ``reason`` locally; fail in CI (``CI`` set), which installs all of it, so that a
    broken setup never passes as a silent skip."""
    (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)


@pytest.fixture(scope="module")
def frontend_dist() -> Path:
    if not (FRONTEND / "node_modules").is_dir():
        _missing("frontend dependencies are not installed (cd frontend && npm ci)")
    if not Path(CHROMIUM).exists():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    dist = FRONTEND / "dist"
    if not (dist / "index.html").exists():
        subprocess.run(["npm", "run", "build"], cwd=FRONTEND, check=True, capture_output=True)
    return dist


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("redis-server") is None:
        _missing("redis-server is not installed (apt-get install redis-server)")
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
def served_atlases(
    atlas_root: Path, planted_image_dir: Path, photo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the session's atlas root (other tests see no O3 results) where ``precompute o3`` has
    added odd-one-out results to the planted atlas, with two more atlases: the tiny ViT over the
    planted (labelled) images, so that a class page has two models side by side, and one built
    ``--no-statistics`` (the pages say "not computed")."""
    root = tmp_path_factory.mktemp("served") / "atlases"
    shutil.copytree(atlas_root, root)
    o3 = write_synthetic_o3(tmp_path_factory.mktemp("o3-synthetic"), n=6)
    assert precompute_main(["o3", "--model", "planted", "--o3", str(o3), "--out", str(root), "--no-progress"]) == 0
    tiny = ("--random-init", "--top-k", "3", "--batch-size", "8")
    build_atlas(root, TINY_VIT, planted_image_dir, *tiny, overrides=TINY_OVERRIDES)
    without = tmp_path_factory.mktemp("no-statistics") / NO_STATISTICS_DATASET
    shutil.copytree(photo_dir, without)
    build_atlas(root, TINY_VIT, without, *tiny, "--no-statistics", overrides=TINY_OVERRIDES)
    return root


@pytest.fixture(scope="module")
def running_job(redis_url: str) -> None:
    """A job a third of the way through its image stream, reported as the precompute job does, after
    a two-model job between its two models (so the single-model job, started last, comes first)."""
    model_ids, multi_dataset = FAKE_MULTI_MODEL_JOB
    models = [(f"{model_id}__{multi_dataset}", model_id) for model_id in model_ids]
    multi = RedisProgress(redis_url, models, multi_dataset, total_per_model=1000)
    first_slug = models[0][0]
    multi(first_slug, "stream", 0, 1000)
    multi.model_finished(first_slug, "done")

    model_id, dataset = FAKE_JOB
    slug = f"{model_id}__{dataset}"
    report = RedisProgress(redis_url, [(slug, model_id)], dataset)
    report(slug, "stream", 0, 3000)
    time.sleep(0.6)  # the reported rate and ETA come from the time between updates
    report(slug, "stream", 1000, 3000)


@pytest.fixture(scope="module")
def finished_job(
    server: str, served_atlases: Path, redis_url: str, photo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A job that finishes once the service runs: its atlas is published into the served folder (the
    service must pick it up without a restart) and reported done. Returns the atlas slug."""
    images = tmp_path_factory.mktemp("finished-job") / FINISHED_JOB_DATASET
    shutil.copytree(photo_dir, images)
    built = build_atlas(
        tmp_path_factory.mktemp("finished-atlas"),
        TINY_VIT,
        images,
        "--random-init",
        "--top-k",
        "3",
        overrides=TINY_OVERRIDES,
    )
    slug = Atlas.open(built).slug
    report = RedisProgress(redis_url, [(slug, TINY_VIT)], FINISHED_JOB_DATASET)
    report(slug, "stream", 0, 10)
    shutil.copytree(built, served_atlases / ".partial" / built.name)
    os.replace(served_atlases / ".partial" / built.name, served_atlases / built.name)
    report.model_finished(slug, "done")
    return slug


@pytest.fixture(scope="module")
def server(
    served_atlases: Path, redis_url: str, frontend_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("backend") / "backend.log"
    command = [
        sys.executable,
        "-m",
        "backend",
        "--atlas-dir",
        str(served_atlases),
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


def test_dashboard_end_to_end(server: str, running_job: None, finished_job: str, photo_dir: Path) -> None:
    photo = photo_dir / "chelsea.jpg"
    assert photo.exists()
    env = {
        **os.environ,
        "QKATLAS_URL": server,
        "QKATLAS_PHOTO": str(photo),
        "QKATLAS_SCREENSHOTS": str(SCREENSHOTS),
        "CHROMIUM_PATH": CHROMIUM,
        "QKATLAS_RUNNING_JOB": " on ".join(FAKE_JOB),
        "QKATLAS_MULTI_MODEL_JOB": json.dumps({"models": FAKE_MULTI_MODEL_JOB[0], "dataset": FAKE_MULTI_MODEL_JOB[1]}),
        "QKATLAS_FINISHED_JOB": json.dumps(
            {"slug": finished_job, "model_id": TINY_VIT, "title": f"{TINY_VIT} on {FINISHED_JOB_DATASET}"}
        ),
    }
    result = subprocess.run(
        [
            "node",
            "--test",
            "--test-reporter=spec",
            *sorted(str(f.relative_to(FRONTEND)) for f in FRONTEND.glob("e2e/*.test.mjs")),
        ],
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
