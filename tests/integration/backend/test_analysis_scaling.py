"""Several workers and replicas: one analysis per upload across app instances sharing a real Redis, its
lock leased and renewed (a killed holder's lapses, a restart frees its waiters), the bounded analysis queue
(503 with Retry-After), Redis going away mid-analysis, and ``--workers N``."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.core.config import Settings
from backend.main import create_app
from backend.services.uploads import UPLOAD_GONE
from qkatlas.atlas import Atlas
from tests.helpers.backend import CountingAnalyzer, FlightWatch, RedisServer, free_port, until, wait_for

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def image(planted_image_dir: Path) -> bytes:
    return next(planted_image_dir.glob("red_blue/*.png")).read_bytes()


def _app(atlas_root: Path, **overrides: Any) -> FastAPI:
    return create_app(
        Settings(**{"atlas_dir": atlas_root, "redis_url": None, "frontend_dist": None, "device": "cpu", **overrides})
    )


def _http(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _upload(http: httpx.AsyncClient, data: bytes) -> str:
    response = await http.post("/api/uploads", files={"file": ("a.png", data, "image/png")})
    assert response.status_code == 201, response.text
    upload_id: str = response.json()["id"]
    return upload_id


def test_two_replicas_sharing_redis_analyse_an_upload_once(
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,
    atlas_root: Path,
    atlases: dict[str, Atlas],
    image: bytes,
) -> None:
    analyzer = CountingAnalyzer(monkeypatch, hold=True)
    flights = FlightWatch(monkeypatch)
    first, second = (_app(atlas_root, redis_url=redis_server.url) for _ in range(2))
    atlas = atlases["tiny"]

    async def scenario() -> list[int]:
        async with _http(first) as one, _http(second) as two:
            upload_id = await _upload(one, image)
            base = f"/api/uploads/{upload_id}/models/{atlas.slug}"
            urls = [f"{base}/layers/{layer}/heads/{head}" for layer in range(2) for head in range(3)]
            urls += [f"{base}/modes", f"{base}/layers/1/heads/2/modes/3/maps"]
            # Every URL asked of both replicas at once, the first replica's analysis held until all wait.
            requests = [asyncio.ensure_future(http.get(url)) for url in urls for http in (one, two)]
            await analyzer.wait_started()
            await flights.wait_joined(f"qk:analysis:{upload_id}:{atlas.slug}:{atlas.revision}", len(requests))
            analyzer.released.set()
            return [response.status_code for response in await asyncio.gather(*requests)]

    assert asyncio.run(scenario()) == [200] * 16
    assert analyzer.calls == 1
    assert not redis_server.client().keys("qk:lock:*"), "the lock is released once the results are stored"


def test_a_crashed_holders_lock_expires_and_another_replica_analyses(
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,
    atlas_root: Path,
    atlases: dict[str, Atlas],
    image: bytes,
) -> None:
    analyzer = CountingAnalyzer(monkeypatch)
    app = _app(atlas_root, redis_url=redis_server.url, analysis_lock_s=1.0)
    atlas = atlases["tiny"]

    async def scenario() -> tuple[int, float]:
        async with _http(app) as http:
            upload_id = await _upload(http, image)
            # A replica that took the lock and died: nobody releases it, it only expires.
            lock = f"qk:lock:analysis:{upload_id}:{atlas.slug}:{atlas.revision}"
            redis_server.client().set(lock, "crashed", px=60_000)
            started = time.monotonic()
            response = await http.get(f"/api/uploads/{upload_id}/models/{atlas.slug}/layers/0/heads/0")
            return response.status_code, time.monotonic() - started

    status, waited_s = asyncio.run(scenario())
    assert status == 200
    assert analyzer.calls == 1
    assert 1.0 <= waited_s < 20, "waits for the holder's result at most analysis_lock_s, then analyses itself"


def test_a_killed_holders_lock_lapses_after_one_lease_and_a_waiter_takes_over(
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,
    atlas_root: Path,
    atlases: dict[str, Atlas],
    image: bytes,
) -> None:
    analyzer = CountingAnalyzer(monkeypatch)
    # Waiters would wait 10 minutes for a live holder: only the lapsed lease can free this one.
    app = _app(atlas_root, redis_url=redis_server.url, analysis_lease_s=1.0, analysis_lock_s=600)
    atlas = atlases["tiny"]

    async def scenario() -> int:
        async with _http(app) as http:
            upload_id = await _upload(http, image)
            # A holder killed mid-analysis: its last renewal gave the lock one lease, and nobody renews it.
            lock = f"qk:lock:analysis:{upload_id}:{atlas.slug}:{atlas.revision}"
            redis_server.client().set(lock, "killed", px=1000)
            response = await asyncio.wait_for(http.get(f"/api/uploads/{upload_id}/models/{atlas.slug}/modes"), 60)
            return response.status_code

    assert asyncio.run(scenario()) == 200
    assert analyzer.calls == 1


def test_a_live_holder_renews_its_lock_while_it_analyses(
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,
    atlas_root: Path,
    atlases: dict[str, Atlas],
    image: bytes,
) -> None:
    analyzer = CountingAnalyzer(monkeypatch, hold=True)
    app = _app(atlas_root, redis_url=redis_server.url, analysis_lease_s=0.3)
    atlas = atlases["tiny"]
    redis = redis_server.client()

    async def scenario() -> int:
        async with _http(app) as http:
            upload_id = await _upload(http, image)
            running = asyncio.ensure_future(http.get(f"/api/uploads/{upload_id}/models/{atlas.slug}/modes"))
            await analyzer.wait_started()
            lock = f"qk:lock:analysis:{upload_id}:{atlas.slug}:{atlas.revision}"
            first_ttl_ms = redis.pttl(lock)
            assert 0 < first_ttl_ms <= 300
            # A lock's time to live only grows when its holder extends it.
            await until(lambda: redis.pttl(lock) > first_ttl_ms, what="the lock renewed")
            analyzer.released.set()
            return (await running).status_code

    assert asyncio.run(scenario()) == 200
    assert not redis.keys("qk:lock:*") and not redis.zcard("qk:analysis-slots")


def test_redis_killed_mid_analysis_still_serves_it(
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,
    atlas_root: Path,
    atlases: dict[str, Atlas],
    image: bytes,
    planted_image_dir: Path,
) -> None:
    analyzer = CountingAnalyzer(monkeypatch, hold=True)
    app = _app(atlas_root, redis_url=redis_server.url)
    atlas = atlases["tiny"]
    another = next(data for path in sorted(planted_image_dir.rglob("*.png")) if (data := path.read_bytes()) != image)

    async def scenario() -> list[int]:
        async with _http(app) as http:
            base = f"/api/uploads/{await _upload(http, image)}/models/{atlas.slug}"
            requests = [asyncio.ensure_future(http.get(f"{base}/layers/{layer}/heads/0")) for layer in range(2)]
            requests.append(asyncio.ensure_future(http.get(f"{base}/modes")))
            await analyzer.wait_started()
            redis_server.stop()  # while the analysis runs and holds its lock in Redis
            analyzer.released.set()
            statuses = [response.status_code for response in await asyncio.gather(*requests)]
            # The upload went with that Redis (it keeps nothing on disk); a new one is analysed once it is back.
            redis_server.start()
            base = f"/api/uploads/{await _upload(http, another)}/models/{atlas.slug}"
            statuses.append((await http.get(f"{base}/layers/0/heads/1")).status_code)
            return statuses

    assert asyncio.run(scenario()) == [200] * 4
    assert analyzer.calls == 2


def test_a_redis_restart_frees_a_replica_waiting_on_anothers_analysis(
    monkeypatch: pytest.MonkeyPatch,
    redis_server: RedisServer,
    atlas_root: Path,
    atlases: dict[str, Atlas],
    image: bytes,
) -> None:
    analyzer = CountingAnalyzer(monkeypatch, hold=True)
    flights = FlightWatch(monkeypatch)
    # Waiters would wait 10 minutes for a live holder: only the restart can free this one.
    first, second = (_app(atlas_root, redis_url=redis_server.url, analysis_lock_s=600) for _ in range(2))
    atlas = atlases["tiny"]

    async def scenario() -> None:
        async with _http(first) as one, _http(second) as two:
            upload_id = await _upload(one, image)
            path = f"/api/uploads/{upload_id}/models/{atlas.slug}/modes"
            holder = asyncio.ensure_future(one.get(path))
            await analyzer.wait_started()
            waiter = asyncio.ensure_future(two.get(path))
            await flights.wait_joined(f"qk:analysis:{upload_id}:{atlas.slug}:{atlas.revision}", 2)
            redis_server.stop()
            redis_server.start()  # empty: the lock, the upload and any result went with the old one
            # Answered while the holder's analysis is still held: it was not waiting for that result.
            done, _ = await asyncio.wait([waiter], timeout=60)
            assert done, "the waiter still waits for a result the restart lost"
            assert not holder.done()
            gone = await waiter
            assert gone.status_code == 404
            assert gone.json()["detail"] == UPLOAD_GONE
            analyzer.released.set()
            assert (await holder).status_code == 200  # its upload was read before the restart

    asyncio.run(scenario())


def test_full_queue_is_503_with_retry_after_and_joining_takes_no_slot(
    monkeypatch: pytest.MonkeyPatch, atlas_root: Path, atlases: dict[str, Atlas], image: bytes
) -> None:
    analyzer = CountingAnalyzer(monkeypatch, hold=True)
    flights = FlightWatch(monkeypatch)
    app = _app(atlas_root, analysis_workers=1, analysis_queue=1)
    tiny, planted = atlases["tiny"], atlases["planted"]

    async def scenario() -> None:
        async with _http(app) as http:
            upload_id = await _upload(http, image)
            tiny_head = f"/api/uploads/{upload_id}/models/{tiny.slug}/layers/0/heads/0"
            planted_head = f"/api/uploads/{upload_id}/models/{planted.slug}/layers/0/heads/0"
            running = asyncio.ensure_future(http.get(tiny_head))
            await analyzer.wait_started()

            busy = await http.get(planted_head)  # another analysis: no room, answered at once
            assert busy.status_code == 503
            assert int(busy.headers["Retry-After"]) >= 1
            assert re.fullmatch(r"the server is busy analysing other images; try again in \d+ s", busy.json()["detail"])
            # The same analysis, asked again (another head of it): joins the one running, not refused.
            joining = asyncio.ensure_future(http.get(f"/api/uploads/{upload_id}/models/{tiny.slug}/modes"))
            await flights.wait_joined(f"qk:analysis:{upload_id}:{tiny.slug}:{tiny.revision}", 2)
            assert not joining.done()

            analyzer.released.set()
            assert (await running).status_code == 200
            assert (await joining).status_code == 200
            assert (await http.get(planted_head)).status_code == 200  # room again

    asyncio.run(scenario())
    assert analyzer.calls == 2


@pytest.fixture
def served_with_two_workers(atlas_root: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    port, log = free_port(), tmp_path / "backend.log"
    command = [sys.executable, "-m", "backend", "--atlas-dir", str(atlas_root), "--port", str(port)]
    command += ["--workers", "2", "--device", "cpu", "--frontend-dist", str(tmp_path / "no-dashboard")]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}", process, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def _children(pid: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def test_workers_option_serves_from_that_many_processes(
    served_with_two_workers: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    url, process, log = served_with_two_workers

    def answers() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    wait_for(answers, timeout_s=120, what="the service")
    # Each worker logs its start; both must be up (the supervisor's children) and serving.
    wait_for(lambda: len(re.findall(r"Started server process \[(\d+)\]", log.read_text())) == 2, what="2 workers")
    workers = {int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", log.read_text())}
    assert len(workers) == 2
    assert workers <= _children(process.pid)
    assert all(answers() for _ in range(20))
