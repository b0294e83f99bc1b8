"""The service under test: app factories, a real Redis server, analysers that count, and waits on
conditions (never on time alone)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import pytest
import redis
import torch
import yaml
from fastapi.testclient import TestClient

from backend.services.analysis.flight import SingleFlight
from precompute.cli import main as precompute_main
from qkatlas.analysis import ImageAnalysis, ImageAnalyzer
from qkatlas.atlas import Atlas
from tests.helpers.o3_images import write_synthetic_o3

REPO = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], *, timeout_s: float = 30.0, what: str = "the condition") -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def until(condition: Callable[[], bool], *, timeout_s: float = 30.0, what: str = "the condition") -> None:
    """``wait_for`` on the event loop: poll ``condition`` between the loop's other work."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: How ``redis-server`` runs in tests by default: a pure cache that keeps nothing on disk.
NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


def compose_redis_options() -> tuple[str, ...]:
    """The options docker-compose.yml runs Redis with (its persistence and memory bound)."""
    command: list[str] = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["redis"]["command"]
    assert command[0] == "redis-server", command
    return tuple(command[1:])


class RedisServer:
    """A throwaway ``redis-server`` on a free loopback port, run with ``options`` (default: no persistence)
    and its files in ``workdir``; restartable (a restart reads what it kept there)."""

    def __init__(self, workdir: Path, options: tuple[str, ...] = NO_PERSISTENCE) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.options = options
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", *self.options],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


class CountingAnalyzer:
    """Replaces ``ImageAnalyzer.analyze``: counts the analyses and, while ``hold`` is set, keeps each one
    running until ``release`` (``started`` tells the test one is running)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, hold: bool = False) -> None:
        self.calls = 0
        self.started = threading.Event()
        self.released = threading.Event()
        if not hold:
            self.released.set()
        analyze = ImageAnalyzer.analyze

        def counting(analyzer: ImageAnalyzer, image: torch.Tensor) -> ImageAnalysis:
            self.calls += 1
            self.started.set()
            assert self.released.wait(30), "the test never released the analysis"
            return analyze(analyzer, image)

        monkeypatch.setattr(ImageAnalyzer, "analyze", counting)

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 30), "no analysis started"


class FlightWatch:
    """Counts the requests that have joined a single flight (``SingleFlight.run``), per key, in every app:
    once they have, they wait for that computation."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.joined: Counter[str] = Counter()
        run = SingleFlight.run

        def counting(flight: SingleFlight, key: str, compute: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
            self.joined[key] += 1
            return run(flight, key, compute)

        monkeypatch.setattr(SingleFlight, "run", counting)

    async def wait_joined(self, key: str, n: int) -> None:
        await until(lambda: self.joined[key] >= n, what=f"{n} requests waiting on {key}")


def copy_atlases_with_o3(tmp_path_factory: pytest.TempPathFactory, atlases: dict[str, Atlas], name: str) -> Path:
    """The session's atlases copied into a root of their own (``name``), the planted one with
    ``precompute o3`` results over synthetic odd-one-out triplets."""
    root = tmp_path_factory.mktemp(name)
    for atlas in atlases.values():
        shutil.copytree(atlas.path, root / atlas.path.name)
    o3_dir = write_synthetic_o3(tmp_path_factory.mktemp(f"{name}-o3"), n=4)
    args = ["o3", "--model", "planted", "--o3", str(o3_dir), "--out", str(root), "--no-progress"]
    assert precompute_main(args) == 0
    return root


class AppFactory(Protocol):
    """``make_client``: ``Settings`` fields to override → a started ``TestClient``."""

    def __call__(self, **overrides: Any) -> TestClient: ...
