"""A running service (a real ``python -m backend`` process) follows the real precompute job writing
into its atlas folder: a new atlas is served without a restart, a rebuilt one replaces the old one
with no response mixing the two, uploads are analysed with the new weights, and a directory copied
in half-written is reported until it is complete. With the in-process cache and with a real Redis
shared by two replicas."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from qkatlas.atlas import Atlas, atlas_directories
from tests.helpers.atlases import TINY_OVERRIDES, TINY_VIT
from tests.helpers.backend import AppFactory, RedisServer, wait_for
from tests.helpers.service import Reply, Service

ROOT = Path(__file__).resolve().parents[3]
MODES = [(0, 0, 0), (1, 2, 0), (1, 1, 3)]


def run_precompute(out: Path, images: Path, seed: int) -> None:
    """The real job, as its own process (another seed = other weights under the same atlas slug)."""
    command = [sys.executable, "-m", "precompute", "--model", TINY_VIT, "--random-init", "--seed", str(seed)]
    command += ["--images", str(images), "--out", str(out), "--top-k", "3", "--batch-size", "5"]
    command += ["--workers", "0", "--no-progress"]
    for key, value in TINY_OVERRIDES.items():
        command += ["--override", f"{key}={value}"]
    job = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert job.returncode == 0, job.stderr[-3000:]


class Browser(threading.Thread):
    """Requests the same addresses over and over, recording every reply in order."""

    def __init__(self, service: Service, paths: list[str]) -> None:
        super().__init__(daemon=True)
        self.service, self.paths = service, paths
        self.replies: list[tuple[str, Reply]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for path in self.paths:
                self.replies.append((path, self.service.get(path)))


@pytest.fixture(params=["in-process cache", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        return server.url
    return None


@pytest.fixture
def services(tmp_path: Path, redis_url: str | None) -> Iterator[list[Service]]:
    """The service under test, and with Redis a second replica sharing the folder and the cache."""
    root = tmp_path / "atlases"
    root.mkdir()
    started = [Service(root, redis_url, tmp_path / "service.log")]
    if redis_url:
        started.append(Service(root, redis_url, tmp_path / "replica.log"))
    yield started
    for service in started:
        service.stop()


def test_the_running_service_follows_the_precompute_job(
    services: list[Service],
    tmp_path: Path,
    photo_dir: Path,
    atlases: dict[str, Atlas],
    make_client: AppFactory,
) -> None:
    service, *replicas = services
    root = tmp_path / "atlases"
    assert service.revisions() == {}

    # 1. Published while the service runs: listed and browsable without a restart.
    run_precompute(root, photo_dir, seed=0)
    (built,) = atlas_directories(root)
    slug = Atlas.open(built).slug
    wait_for(lambda: slug in service.revisions(), timeout_s=10, what="the new atlas to be listed")
    old_revision = service.revisions()[slug]
    mode_paths = [f"/api/models/{slug}/layers/{layer}/heads/{head}/modes/{mode}" for layer, head, mode in MODES]
    overlay_paths = [f"{path}/top/0/overlay.png?blend=0.6" for path in mode_paths]
    paths = mode_paths + overlay_paths
    old = {path: service.get(path) for path in paths}
    assert all(reply.status == 200 for reply in old.values())
    pinned = {path: old[path].json()["top_images"][0]["overlay_url"] for path in mode_paths}
    photo = next(p for p in sorted(photo_dir.iterdir()) if p.suffix == ".jpg").read_bytes()
    head = f"models/{slug}/layers/1/heads/2"
    old_ranking = service.get(f"/api/uploads/{service.upload(photo)}/{head}").json()["modes"]

    # 2. Rebuilt with other weights under the same slug while a client keeps browsing.
    browser = Browser(service, paths)
    browser.start()
    run_precompute(root, photo_dir, seed=1)
    wait_for(lambda: service.revisions()[slug] != old_revision, timeout_s=10, what="the rebuilt atlas")
    seen = len(browser.replies)
    wait_for(lambda: len(browser.replies) > seen + 2 * len(paths), what="more browsing")
    browser.stopping.set()
    browser.join(timeout=60)
    new = {path: service.get(path) for path in paths}
    assert all(old[path].body != new[path].body for path in paths)  # other weights, other answers
    versions = []
    for path, reply in browser.replies:
        assert reply.status == 200, (path, reply)
        assert reply.body in (old[path].body, new[path].body), f"{path}: a reply matching neither atlas"
        versions.append("new" if reply.body == new[path].body else "old")
    assert "old" in versions and "new" in versions
    first_new = versions.index("new")
    assert set(versions[first_new:]) == {"new"}, "an old reply after a new one"
    for path in mode_paths:
        stale = service.get(pinned[path])
        assert stale.status == 404 and b"rebuilt" in stale.body

    # 3. Uploads are analysed with the new weights: as a service that only ever saw the new atlas.
    new_ranking = service.get(f"/api/uploads/{service.upload(photo)}/{head}").json()["modes"]
    fresh = make_client(atlas_dir=root)
    upload = fresh.post("/api/uploads", files={"file": ("photo.jpg", photo, "image/jpeg")}).json()["id"]
    assert new_ranking == fresh.get(f"/api/uploads/{upload}/{head}").json()["modes"]
    assert new_ranking != old_ranking

    # 4. A replica sharing the folder and the Redis cache agrees, whatever the other cached.
    for replica in replicas:
        assert replica.revisions() == service.revisions()
        assert all(replica.get(path).body == new[path].body for path in paths)

    # 5. A directory copied in by hand, corrupt at first: reported, never breaking the others, then served.
    broken = root / "copied-by-hand"
    broken.mkdir()
    (broken / "manifest.json").write_text("{")
    wait_for(lambda: service.get("/api/health").json()["status"] == "degraded", what="the failure to be reported")
    (failure,) = service.get("/api/health").json()["failed_atlases"]
    assert failure["directory"] == broken.name and "not JSON" in failure["reason"]
    assert service.get(mode_paths[0]).body == new[mode_paths[0]].body
    shutil.rmtree(broken)
    shutil.copytree(atlases["planted"].path, broken)
    wait_for(lambda: service.get("/api/health").json()["status"] == "ok", what="the fixed atlas")
    assert set(service.revisions()) == {slug, atlases["planted"].slug}
