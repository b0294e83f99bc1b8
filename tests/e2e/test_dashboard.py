"""Browser tests of the dashboard against the real stack.

The session's atlases (a tiny random-init ViT and the planted-mode model, built by the precompute job
in ``tests/conftest.py``; the planted one given odd-one-out results by ``precompute o3`` over the
synthetic O3 set) are served by ``python -m backend`` with a real ``redis-server`` and the production
build of the dashboard. A running precompute job is reported into that Redis the way the job reports
it. The files ``frontend/e2e/*.test.mjs`` then drive Debian's Chromium through Playwright Test (browse,
permalinks, uploads, keyboard, chart downloads, progress, odd-one-out curves, search, the mode index,
class pages, score distributions, axe-core, 390 px; the API docs with other hosts blocked and gzip in
``api.test.mjs``) and save a screenshot of every page to ``artifacts/screenshots/``.

Each browser test is one pytest test (``test_browser[<file> > <describe> > <title>]``), so ``-k`` selects
browser tests and each passes or fails on its own: the selected ones run in one Playwright run (one
browser, the stack started once), whose JSON report gives each its outcome and its error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest

from precompute.cli import main as precompute_main
from qkatlas.atlas import Atlas, atlas_directories
from qkatlas.conventions import SIGNS
from qkatlas.progress import RedisProgress
from tests.e2e.conftest import BROWSER_DURATION
from tests.helpers.atlases import TINY_OVERRIDES, TINY_VIT, build_atlas
from tests.helpers.clock import FakeClock
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
    # The reported rate and ETA come from the time between updates: a clock that moves 0.6 s between them.
    clock = FakeClock()
    report = RedisProgress(redis_url, [(slug, model_id)], dataset, clock=clock)
    report(slug, "stream", 0, 3000)
    clock.advance(0.6)
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
        "--lists-db",
        str(log.parent / "lists.sqlite3"),
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


@dataclass(frozen=True)
class BrowserTest:
    """One test of ``frontend/e2e``: where it is (Playwright selects it by ``file:line``) and its title path."""

    file: str
    line: int
    titles: tuple[str, ...]

    @property
    def location(self) -> str:
        return f"e2e/{self.file}:{self.line}"

    @property
    def name(self) -> str:
        return " › ".join((self.file, *self.titles))


def _playwright(*args: str, env: dict[str, str] | None = None, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", "node_modules/@playwright/test/cli.js", "test", *args],
        cwd=FRONTEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _specs(suite: dict[str, Any], titles: tuple[str, ...] = ()) -> Iterator[tuple[BrowserTest, dict[str, Any]]]:
    """Every spec of a Playwright JSON report's file suite (or of a describe block in it, whose titles
    lead to it) with the test it is."""
    for spec in suite.get("specs", []):
        yield BrowserTest(str(spec["file"]), int(spec["line"]), (*titles, str(spec["title"]))), spec
    for child in suite.get("suites", []):
        yield from _specs(child, (*titles, str(child["title"])))


def _browser_tests() -> list[BrowserTest]:
    """The browser tests, as Playwright lists them (none where the frontend is not installed)."""
    if not (FRONTEND / "node_modules" / "@playwright" / "test").is_dir():
        return []
    listed = _playwright("--list", "--reporter=json", timeout=120)
    if listed.returncode != 0:
        raise RuntimeError(f"playwright test --list failed:\n{listed.stdout}{listed.stderr}")
    return [test for file_suite in json.loads(listed.stdout)["suites"] for test, _ in _specs(file_suite)]


BROWSER_TESTS = _browser_tests()
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def browser_results(
    request: pytest.FixtureRequest,
    server: str,
    running_job: None,
    finished_job: str,
    photo_dir: Path,
    served_atlases: Path,
) -> dict[str, dict[str, Any]]:
    """Runs the selected browser tests in one Playwright run; each one's result by its ``BrowserTest.name``."""
    params = [getattr(item, "callspec", None) for item in request.session.items if item.path == request.path]
    selected = [
        p.params["browser_test"] for p in params if p is not None and "browser_test" in p.params
    ] or BROWSER_TESTS
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
        "QKATLAS_TIED_MODE": json.dumps(_tied_mode(served_atlases, photo_dir)),
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
    }
    locations = sorted({test.location for test in selected})
    run = _playwright("--reporter=json", *locations, env=env, timeout=60 + 240 * len(selected))
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"playwright gave no report (exit {run.returncode}):\n{run.stdout}{run.stderr}")
    results = {test.name: spec["tests"][0] for file_suite in report["suites"] for test, spec in _specs(file_suite)}
    if report.get("errors"):
        pytest.fail("playwright: " + ANSI.sub("", "\n".join(e.get("message", "") for e in report["errors"])))
    return results


def _tied_mode(root: Path, photos: Path) -> dict[str, Any]:
    """A signed mode of the tiny ViT's atlas over ``photos`` whose listed last places tie with the next
    image at the atlas's precision (the sample photos hold the same cat twice, cat.jpg and chelsea.jpg,
    whose scores are equal)."""
    atlas = next(
        a
        for a in map(Atlas.open, atlas_directories(root))
        if a.model_id == TINY_VIT and a.manifest.dataset.source == str(photos)
    )
    for basis in atlas.bases:
        for layer, head, mode in np.ndindex(atlas.n_layers, atlas.n_heads, atlas.n_modes):
            for sign in SIGNS:
                tied = atlas.cutoff_tie(basis, layer, head, mode, sign)
                listed = len(atlas.evidence(basis, layer, head, mode, sign).winners)
                if tied is not None and listed == atlas.top_k:
                    where = {"layer": layer, "head": head, "mode": mode, "sign": sign.value, "basis": basis.value}
                    return {"slug": atlas.slug, **where, "first": tied.first, "k": atlas.top_k}
    raise AssertionError(f"no mode of {atlas.slug} ties at its cut-off")


def _pytest_id(test: BrowserTest) -> str:
    """The test's name in ASCII: pytest would print ``›`` and ``→`` as ``\\u203a`` and ``\\u2192``."""
    return test.name.replace(" › ", " > ").replace("→", "->")


@pytest.mark.parametrize("browser_test", BROWSER_TESTS, ids=[_pytest_id(t) for t in BROWSER_TESTS])
def test_browser(
    browser_test: BrowserTest,
    browser_results: dict[str, dict[str, Any]],
    record_property: Callable[[str, object], None],
) -> None:
    result = browser_results.get(browser_test.name)
    assert result is not None, f"{browser_test.name} did not run"
    runs = result["results"]
    last = runs[-1] if runs else {}
    record_property(BROWSER_DURATION, last.get("duration", 0) / 1000)
    output = "".join(chunk.get("text", "") for stream in ("stdout", "stderr") for chunk in last.get(stream, []))
    if result["status"] == "skipped":
        reason = next((a.get("description") for a in result.get("annotations", []) if a.get("type") == "skip"), None)
        pytest.skip(reason or "skipped in the browser")
    if result["status"] != "expected":
        # Playwright's own account (the failed step, the expected and received values, the stack in
        # the test file) and what the test printed, without pytest's traceback of this wrapper.
        errors = [ANSI.sub("", str(e.get("stack") or e.get("message", ""))) for e in last.get("errors", [])]
        pytest.fail(
            "\n\n".join([f"{browser_test.location}: {last.get('status')}", *errors, output]).strip(), pytrace=False
        )


def test_browser_tests_saved_screenshots(browser_results: dict[str, dict[str, Any]]) -> None:
    if not BROWSER_TESTS:
        _missing("the browser tests cannot be listed (cd frontend && npm ci)")
    assert sorted(p.name for p in SCREENSHOTS.glob("*.png")), "no screenshots were saved"
