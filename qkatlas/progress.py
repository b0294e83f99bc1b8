"""Precompute progress in Redis: the job writes it, the service (and so the dashboard) reads it.

Key ``qkatlas:progress:<slug>`` holds one ``PrecomputeJob`` as JSON with a one-hour TTL that every
update renews. The same class is the HTTP API's schema of a job, so writer and reader share one
definition. Redis trouble never stops the job: a failed write is dropped and retried at the next
update.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Literal

import redis
from pydantic import BaseModel, ConfigDict, Field

PROGRESS_KEY_PREFIX = "qkatlas:progress:"
PROGRESS_TTL_S = 3600
_MIN_INTERVAL_S = 0.5

State = Literal["running", "done", "failed"]
#: ``stream``: scoring every image; ``thumbnails``: writing the thumbnails of winners another node scored.
Phase = Literal["stream", "thumbnails"]


class PrecomputeJob(BaseModel):
    """A precompute job that reports to this service's Redis (``--progress-redis``)."""

    model_config = ConfigDict(protected_namespaces=())

    slug: str = Field(description="The atlas being built.")
    model_id: str
    dataset: str
    state: State
    phase: Phase = Field(
        description="`stream`: scoring every image (the winners' maps are kept as it goes); `thumbnails`: writing "
        "the thumbnails of winners that another node scored (multi-node runs)."
    )
    done: int
    total: int
    images_per_second: float | None
    eta_seconds: float | None
    started: str
    updated: str | None
    message: str | None = Field(description="Why it failed, when it did.")


class RedisProgress:
    """Callable as the job's ``on_progress(phase, done, total)``; ``finish`` records the outcome."""

    def __init__(self, url: str, slug: str, model_id: str, dataset: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._key = PROGRESS_KEY_PREFIX + slug
        self._report = PrecomputeJob(
            slug=slug,
            model_id=model_id,
            dataset=dataset,
            state="running",
            phase="stream",
            done=0,
            total=0,
            images_per_second=None,
            eta_seconds=None,
            started=datetime.now(UTC).isoformat(),
            updated=None,
            message=None,
        )
        self._phase_clock = time.monotonic()
        self._phase_start_done = 0
        self._last_write = 0.0

    def __call__(self, phase: Phase, done: int, total: int) -> None:
        now = time.monotonic()
        if phase != self._report.phase:
            self._phase_clock, self._phase_start_done = now, 0
        elapsed = now - self._phase_clock
        rate = (done - self._phase_start_done) / elapsed if elapsed > 0 else None
        self._report = self._report.model_copy(
            update={
                "phase": phase,
                "done": done,
                "total": total,
                "images_per_second": rate,
                "eta_seconds": (total - done) / rate if rate else None,
            }
        )
        if now - self._last_write >= _MIN_INTERVAL_S or done >= total:
            self._write()
            self._last_write = now

    def finish(self, state: State, message: str | None = None) -> None:
        self._report = self._report.model_copy(update={"state": state, "message": message, "eta_seconds": None})
        self._write()

    def _write(self) -> None:
        self._report = self._report.model_copy(update={"updated": datetime.now(UTC).isoformat()})
        # Progress is advisory: the job must not depend on Redis being up.
        with contextlib.suppress(redis.RedisError):
            self._client.set(self._key, self._report.model_dump_json(), ex=PROGRESS_TTL_S)
