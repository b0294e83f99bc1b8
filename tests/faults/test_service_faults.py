"""The service on its bad days: a burst of uploads beyond the deployment's analysis bound, a worker killed
mid-analysis, Redis stopped and restarted under load. Real ``python -m backend`` processes (several
workers, or two services sharing one Redis) and a real ``redis-server``; analyses are held on a gate
(``tests.helpers.held_backend``) so that each fault strikes while analyses run.

Every request has a timeout: a hang is a failure. Every answer must be a success or a clear one: 503 with
``Retry-After`` and a message saying to try again, or, for an upload the service no longer has, 404 saying
to upload the image again.
"""

from __future__ import annotations

import io
import itertools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.services.uploads import UPLOAD_GONE
from tests.helpers.backend import RedisServer, compose_redis_options, wait_for
from tests.helpers.faults import FaultRecorder
from tests.helpers.service import Reply, Service

#: Longest wait for one answer: only there to turn a hang into a failure.
REQUEST_TIMEOUT_S = 60
#: One analysis thread per process, and uploads never rate-limited here.
ENV = {"QKATLAS_ANALYSIS_WORKERS": "1", "QKATLAS_UPLOAD_RATE_LIMIT": "1000000"}


def _png(n: int) -> bytes:
    """A distinct small image per ``n`` (a distinct upload, so a distinct analysis)."""
    pixels = np.random.default_rng(n).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Outcome:
    """One request's fate: an HTTP answer, or the error that stood for one (``connection`` or ``timeout``)."""

    path: str
    reply: Reply | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.reply is not None and self.reply.status < 400

    @property
    def clear_failure(self) -> bool:
        """A refusal that says what to do: busy (503, Retry-After, try again) or the upload is gone."""
        if self.reply is None:
            return False
        detail = self.reply.json().get("detail", "") if self.reply.body.startswith(b"{") else ""
        if self.reply.status == 503:
            return int(self.reply.headers.get("retry-after", "0")) >= 1 and "try again" in detail
        return self.reply.status == 404 and self.path.startswith("/api/uploads/") and detail == UPLOAD_GONE


def _ask(call: Callable[[], Reply], path: str) -> Outcome:
    try:
        return Outcome(path, call())
    except TimeoutError:
        return Outcome(path, None, "timeout")
    except OSError as error:  # the process answering was killed: reset, refused, closed without an answer
        reason = getattr(error, "reason", None)
        return Outcome(path, None, "timeout" if isinstance(reason, TimeoutError) else "connection")


def _get(service: Service, path: str) -> Outcome:
    return _ask(lambda: service.get(path, timeout_s=REQUEST_TIMEOUT_S), path)


def _post_upload(service: Service, data: bytes) -> Outcome:
    return _ask(lambda: service.post_upload(data, timeout_s=REQUEST_TIMEOUT_S), "/api/uploads")


class Gate:
    """The held analyses' gate (``tests.helpers.held_backend``): closed, analyses wait; each started one
    leaves a marker naming its process."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder

    def close(self) -> None:
        (self.folder / "hold").touch()

    def open(self) -> None:
        (self.folder / "hold").unlink(missing_ok=True)

    def started_pids(self) -> list[int]:
        return [int(marker.name.split("-")[1]) for marker in self.folder.glob("started-*")]


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    gate = Gate(tmp_path / "gate")
    yield gate
    gate.open()  # a failed test never leaves analyses waiting


@pytest.fixture
def services(atlas_root: Path, tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """``start(redis_url, **Service options)`` → a started service, stopped at teardown."""
    started: list[Service] = []
    names = itertools.count()

    def start(redis_url: str, **options: object) -> Service:
        service = Service(atlas_root, redis_url, tmp_path / f"service-{next(names)}.log", **options)  # type: ignore[arg-type]
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def _model(service: Service) -> str:
    slugs: list[str] = [model["slug"] for model in service.get("/api/models").json()]
    return next((slug for slug in slugs if "planted" in slug), slugs[0])


def _analysis(upload_id: str, slug: str) -> str:
    """The route that needs the whole analysis of an upload by a model."""
    return f"/api/uploads/{upload_id}/models/{slug}/modes"


def _dataset_image_maps(slug: str, index: int) -> str:
    """A route that analyses one of the atlas's own images (nothing of it needs Redis)."""
    return f"/api/models/{slug}/images/{slug}~{index}/maps?layer=0&head=0&mode=0"


def _bound(service: Service) -> dict[str, object]:
    bound: dict[str, object] = service.get("/api/health").json()["analysis"]
    return bound


def _burst(pool: ThreadPoolExecutor, asks: list[Callable[[], Outcome]]) -> list[Future[Outcome]]:
    return [pool.submit(ask) for ask in asks]


def _answered(futures: list[Future[Outcome]], n: int, what: str) -> list[Outcome]:
    """Wait until ``n`` of ``futures`` are answered (the rest are held at the gate); those answers."""
    wait_for(lambda: sum(f.done() for f in futures) >= n, timeout_s=REQUEST_TIMEOUT_S, what=what)
    return [f.result() for f in futures if f.done()]


def test_the_analysis_bound_holds_across_services_and_per_process_without_redis(
    redis_server: RedisServer, services: Callable[..., Service], gate: Gate, faults: FaultRecorder
) -> None:
    env = {**ENV, "QKATLAS_ANALYSIS_SLOTS": "3", "QKATLAS_ANALYSIS_QUEUE": "2"}
    both = [services(redis_server.url, env=env, hold_dir=gate.folder) for _ in range(2)]
    slug = _model(both[0])
    assert _bound(both[0]) == {"scope": "deployment", "size": 3, "running": 0}

    # Six distinct analyses at once, three asked of each service: three in all are admitted.
    gate.close()
    ids = [both[0].upload(_png(n)) for n in range(6)]
    with ThreadPoolExecutor(6) as pool:
        paths = [_analysis(upload_id, slug) for upload_id in ids]
        futures = _burst(pool, [lambda n=n: _get(both[n % 2], paths[n]) for n in range(6)])  # type: ignore[misc]
        refused = _answered(futures, 3, "the analyses beyond the bound to be refused")
        assert len(refused) == 3 and all(o.reply is not None and o.reply.status == 503 for o in refused), refused
        assert all(o.clear_failure for o in refused), refused
        for service in both:
            assert _bound(service) == {"scope": "deployment", "size": 3, "running": 3}
        gate.open()
        admitted = [f.result() for f in futures if f.result() not in refused]
    assert len(admitted) == 3 and all(o.ok for o in admitted), admitted
    retried = [_get(both[0], o.path) for o in refused]  # room again
    assert all(o.ok for o in retried), retried
    faults.record(
        "burst of distinct uploads beyond the deployment's analysis bound (2 services, bound 3)",
        injected=1,
        requests=len(futures) + len(retried),
        failures_seen=len(refused),
        lost=0,
        produced="3 analysed; 3 answered 503 + Retry-After at once; their retries 200",
    )

    # Redis away: each service is bounded by its own queue (2), so four analyses run at once.
    redis_server.stop()
    gate.close()
    # Uploads are paused while Redis is away (nothing would be kept); dataset images are still analysed.
    assert _post_upload(both[0], _png(100)).clear_failure
    own = [[_dataset_image_maps(slug, 3 * s + n) for n in range(3)] for s in range(2)]
    with ThreadPoolExecutor(6) as pool:
        asks = [lambda s=s, path=path: _get(both[s], path) for s in range(2) for path in own[s]]
        futures = _burst(pool, asks)  # type: ignore[arg-type]
        refused = _answered(futures, 2, "one analysis refused by each process")
        assert len(refused) == 2 and all(o.clear_failure and o.reply.status == 503 for o in refused), refused  # type: ignore[union-attr]
        for service in both:
            assert _bound(service) == {"scope": "process", "size": 2, "running": 2}
        gate.open()
        admitted = [f.result() for f in futures if f.result() not in refused]
    assert len(admitted) == 4 and all(o.ok for o in admitted), admitted
    redis_server.start()
    for service in both:
        assert _bound(service)["scope"] == "deployment"
    assert "bounded per worker process (2) instead of across the deployment (3)" in both[0].log_text()
    faults.record(
        "Redis stopped: analyses bounded per process (2 services, 2 each)",
        injected=1,
        requests=len(futures),
        failures_seen=len(refused),
        lost=0,
        produced="uploads paused (503 + Retry-After); dataset images: 2 analysed per process, the third 503 + "
        "Retry-After; /api/health scope `process`",
    )


def _until_ok(ask: Callable[[], Outcome], tries: int = 10) -> list[Outcome]:
    """A client retrying until answered with success (a few tries: each is bounded by its timeout)."""
    outcomes = [ask()]
    while not outcomes[-1].ok and len(outcomes) < tries:
        assert outcomes[-1].error != "timeout", outcomes
        outcomes.append(ask())
    return outcomes


def test_a_worker_killed_mid_analysis(
    redis_server: RedisServer, services: Callable[..., Service], gate: Gate, faults: FaultRecorder
) -> None:
    lease_s = 2
    env = {**ENV, "QKATLAS_ANALYSIS_SLOTS": "2", "QKATLAS_ANALYSIS_LEASE_S": str(lease_s)}
    service = services(redis_server.url, workers=2, env=env, hold_dir=gate.folder)
    slug = _model(service)
    upload_id = service.upload(_png(0))
    path = _analysis(upload_id, slug)
    browsing = ["/api/models", f"/api/models/{slug}/layers/0/heads/0", "/api/health"]

    gate.close()
    with ThreadPoolExecutor(8) as pool:
        # The analysis and three more requests for it (joining it in its worker, or waiting on its lock).
        waiting = _burst(pool, [lambda: _get(service, path)] * 4)
        wait_for(lambda: bool(gate.started_pids()), timeout_s=REQUEST_TIMEOUT_S, what="the analysis to start")
        (killed,) = gate.started_pids()
        os.kill(killed, signal.SIGKILL)
        browsed = [_get(service, p) for p in browsing * 3]
        gate.open()
        first_tries = [f.result() for f in waiting]
    assert all(o.ok for o in browsed), browsed  # the other worker (and the restarted one) answer
    assert all(o.ok or o.error == "connection" for o in first_tries), first_tries
    lost_connections = [o for o in first_tries if not o.ok]
    retries = [_until_ok(lambda: _get(service, path)) for _ in lost_connections]
    assert all(tries[-1].ok for tries in retries), retries
    assert service.get(f"/api/uploads/{upload_id}").status == 200, "the upload outlives the worker"

    # No slot leaks: the killed worker's lease expires, and the whole bound is there again.
    wait_for(lambda: _bound(service)["running"] == 0, timeout_s=REQUEST_TIMEOUT_S, what="the dead worker's lease")
    gate.close()
    ids = [service.upload(_png(n)) for n in range(1, 4)]
    with ThreadPoolExecutor(3) as pool:
        futures = _burst(pool, [lambda i=i: _get(service, _analysis(i, slug)) for i in ids])  # type: ignore[misc]
        (refused,) = _answered(futures, 1, "the analysis beyond the bound to be refused")
        assert refused.clear_failure, refused
        assert _bound(service) == {"scope": "deployment", "size": 2, "running": 2}
        gate.open()
        assert all(f.result().ok for f in futures if f.result() is not refused)
    requests = len(first_tries) + len(browsed) + sum(map(len, retries)) + len(futures)
    faults.record(
        "backend worker SIGKILLed mid-analysis (2 workers)",
        injected=1,
        requests=requests,
        failures_seen=len(lost_connections) + sum(len(tries) - 1 for tries in retries),
        lost=0,
        produced="connection closed for the requests on the killed worker; their retries 200; slot and lock "
        f"back after the {lease_s} s lease",
    )


@pytest.fixture
def compose_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """Redis as docker-compose.yml runs it: with its append-only file, so what it acknowledged survives a
    SIGKILL and a restart."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder, compose_redis_options())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_killed_and_restarted_under_load(
    compose_redis: RedisServer, services: Callable[..., Service], gate: Gate, faults: FaultRecorder
) -> None:
    redis_server = compose_redis
    service = services(redis_server.url, workers=2, env=ENV, hold_dir=gate.folder)
    slug = _model(service)
    before = [service.upload(_png(n)) for n in range(3)]
    assert all(_get(service, _analysis(i, slug)).ok for i in before)

    outcomes: list[Outcome] = []
    accepted: list[str] = []  # every upload the service answered 201 for: it promised to keep them
    stop = threading.Event()
    images = itertools.count(1000)

    def uploader() -> None:
        while not stop.is_set():
            created = _post_upload(service, _png(next(images)))
            outcomes.append(created)
            if created.ok:
                accepted.append(created.reply.json()["id"])  # type: ignore[union-attr]
                outcomes.append(_get(service, _analysis(accepted[-1], slug)))

    def browser() -> None:
        for path in itertools.cycle(["/api/models", f"/api/models/{slug}/layers/0/heads/0", "/api/health"]):
            if stop.is_set():
                return
            outcomes.append(_get(service, path))

    def after(n: int) -> Callable[[], bool]:
        target = len(outcomes) + n
        return lambda: len(outcomes) >= target

    gate.close()  # the uploaders' analyses wait at the gate: requests in flight across the restart
    clients = [threading.Thread(target=client) for client in (uploader, uploader, browser, browser)]
    for client in clients:
        client.start()
    try:
        wait_for(lambda: bool(gate.started_pids()), timeout_s=REQUEST_TIMEOUT_S, what="an analysis to start")
        wait_for(after(10), timeout_s=REQUEST_TIMEOUT_S, what="load before the fault")
        redis_server.stop()
        wait_for(after(10), timeout_s=REQUEST_TIMEOUT_S, what="load while Redis is down")
        redis_server.start()
        wait_for(after(10), timeout_s=REQUEST_TIMEOUT_S, what="load after the restart")
        gate.open()
        wait_for(after(20), timeout_s=REQUEST_TIMEOUT_S, what="load with analyses running again")
    finally:
        stop.set()
        gate.open()
        for client in clients:
            client.join(timeout=2 * REQUEST_TIMEOUT_S)
    assert not any(client.is_alive() for client in clients), "a client hung"
    failures = [o for o in outcomes if not o.ok]
    assert all(o.clear_failure for o in failures), [o for o in failures if not o.clear_failure]

    # Every upload the service accepted is still there: those made before the kill come back with the Redis
    # that kept them (its append-only file), and none was accepted while Redis was away (503 instead).
    # (A client asks again after a 503: a worker that found Redis slow a moment ago says so rather than "gone".)
    kept = [_until_ok(partial(_get, service, f"/api/uploads/{i}"))[-1] for i in [*before, *accepted]]
    gone = sum(not o.ok for o in kept)
    assert gone == 0, [o for o in kept if not o.ok]

    # Everything works again: new uploads analysed and browsing answered, round after round.
    def round_works() -> bool:
        created = _post_upload(service, _png(next(images)))
        return created.ok and all(
            _get(service, p).ok
            for p in (_analysis(created.reply.json()["id"], slug), "/api/models")  # type: ignore[union-attr]
        )

    wait_for(lambda: all(round_works() for _ in range(3)), timeout_s=REQUEST_TIMEOUT_S, what="the service to recover")
    assert _bound(service)["scope"] == "deployment"
    busy = sum(o.reply is not None and o.reply.status == 503 for o in failures)
    faults.record(
        "Redis killed and restarted under load (2 workers, 4 clients)",
        injected=1,
        requests=len(outcomes),
        failures_seen=len(failures),
        lost=gone,
        produced=f"no 500s, no hangs; {busy} × 503 + Retry-After (uploads paused while Redis was away, analyses "
        f"busy), {len(failures) - busy} other clear failures; all {len(before) + len(accepted)} accepted uploads kept "
        "(append-only file)",
    )
