"""Precompute progress in Redis: the job writes it, the service (and so the dashboard) reads it.

Key ``qkatlas:progress:<slug>`` holds a JSON object (see ``ProgressReport``) with a one-hour TTL that
every update renews. Redis trouble never stops the job: a failed write is dropped and retried at the
next update.
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime
from typing import Any, Literal

import redis

PROGRESS_KEY_PREFIX = "qkatlas:progress:"
PROGRESS_TTL_S = 3600
_MIN_INTERVAL_S = 0.5

State = Literal["running", "done", "failed"]


class RedisProgress:
    """Callable as the job's ``on_progress(phase, done, total)``; ``finish`` records the outcome."""

    def __init__(self, url: str, slug: str, model_id: str, dataset: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._key = PROGRESS_KEY_PREFIX + slug
        self._report: dict[str, Any] = {
            "slug": slug,
            "model_id": model_id,
            "dataset": dataset,
            "state": "running",
            "phase": "stream",
            "done": 0,
            "total": 0,
            "images_per_second": None,
            "eta_seconds": None,
            "started": datetime.now(UTC).isoformat(),
            "updated": None,
            "message": None,
        }
        self._phase_clock = time.monotonic()
        self._phase_start_done = 0
        self._last_write = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase != self._report["phase"]:
            self._phase_clock, self._phase_start_done = now, 0
        elapsed = now - self._phase_clock
        rate = (done - self._phase_start_done) / elapsed if elapsed > 0 else None
        self._report.update(
            phase=phase,
            done=done,
            total=total,
            images_per_second=rate,
            eta_seconds=(total - done) / rate if rate else None,
        )
        if now - self._last_write >= _MIN_INTERVAL_S or done >= total:
            self._write()
            self._last_write = now

    def finish(self, state: State, message: str | None = None) -> None:
        self._report.update(state=state, message=message, eta_seconds=None)
        self._write()

    def _write(self) -> None:
        self._report["updated"] = datetime.now(UTC).isoformat()
        # Progress is advisory: the job must not depend on Redis being up.
        with contextlib.suppress(redis.RedisError):
            self._client.set(self._key, json.dumps(self._report), ex=PROGRESS_TTL_S)
