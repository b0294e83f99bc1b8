"""Precompute progress in Redis: the job writes it, the service (and so the dashboard) reads it.

Key ``qkatlas:progress:<slug>`` holds one ``PrecomputeJob`` per model as JSON with a one-hour TTL that
every update renews. A job over several models writes one record per model, each carrying the same
``JobTotals`` (the whole job's progress, rate and ETA), so the dashboard can list every model of a job
under one heading. The same classes are the HTTP API's schema, so writer and reader share one
definition. Redis trouble never stops the job: a failed write is dropped and retried at the next update.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import redis

PROGRESS_KEY_PREFIX = "qkatlas:progress:"
PROGRESS_TTL_S = 3600
_MIN_INTERVAL_S = 0.5

#: ``queued``: waiting for its group of models to start (multi-model jobs).
State = Literal["queued", "running", "done", "failed"]
#: ``stream``: scoring every image; ``thumbnails``: writing the thumbnails of winners another node scored.
Phase = Literal["stream", "thumbnails"]


class ProgressSink(Protocol):
    """What the precompute job reports to (``RedisProgress``, or a test's recorder)."""

    def __call__(self, slug: str, phase: Phase, done: int, total: int) -> None: ...

    def model_finished(self, slug: str, state: State, message: str | None = None) -> None: ...


class JobTotals(BaseModel):
    """The whole job a model belongs to: every model of one ``python -m precompute`` run."""

    id: str = Field(description="Shared by the records of every model of one job.")
    n_models: int
    models_done: int
    done: int = Field(description="Images scored so far, summed over the job's models.")
    total: int = Field(description="Images to score, summed over the job's models.")
    images_per_second: float | None = Field(
        description="Images scored per second, summed over the models being streamed together."
    )
    eta_seconds: float | None = Field(description="Until the last model is done, at the rate so far.")


class PrecomputeJob(BaseModel):
    """One model of a precompute job that reports to this service's Redis (``--progress-redis``)."""

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
    order: int = Field(default=0, description="The model's place in its job's run order (0 for the first).")
    job: JobTotals | None = Field(default=None, description="The whole job, when it builds several models.")


class _Rate:
    """Items per second since the first update of a phase."""

    def __init__(self) -> None:
        self.clock: float | None = None
        self.start = 0

    def __call__(self, now: float, done: int) -> float | None:
        if self.clock is None:
            self.clock, self.start = now, done
            return None
        elapsed = now - self.clock
        return (done - self.start) / elapsed if elapsed > 0 and done > self.start else None


class RedisProgress:
    """The progress of every model of one job, written to Redis.

    Call it as the job's ``on_progress(slug, phase, done, total)``; ``model_finished`` and ``finish``
    record outcomes. Models that have not started yet are listed as ``queued``.
    """

    def __init__(
        self,
        url: str,
        models: Sequence[tuple[str, str]],
        dataset: str,
        total_per_model: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``models``: ``(slug, model_id)`` of every model of the job, in the order they will run;
        ``clock``: seconds, what rates and ETAs are measured on."""
        import redis  # here, so that the job itself runs where only the precompute's packages are installed

        self._client: redis.Redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._redis_error = redis.RedisError
        started = datetime.now(UTC).isoformat()
        self._reports = {
            slug: PrecomputeJob(
                slug=slug,
                model_id=model_id,
                dataset=dataset,
                state="queued",
                phase="stream",
                done=0,
                total=total_per_model,
                images_per_second=None,
                eta_seconds=None,
                started=started,
                updated=None,
                message=None,
                order=order,
            )
            for order, (slug, model_id) in enumerate(models)
        }
        self._job_id = uuid.uuid4().hex[:12]
        self._rates = {slug: _Rate() for slug in self._reports}
        self._job_rate = _Rate()
        self._last_write = 0.0
        self._clock = clock

    def __call__(self, slug: str, phase: Phase, done: int, total: int) -> None:
        now = self._clock()
        report = self._reports[slug]
        if phase != report.phase:
            self._rates[slug] = _Rate()
        rate = self._rates[slug](now, done)
        self._reports[slug] = report.model_copy(
            update={
                "state": "running",
                "phase": phase,
                "done": done,
                "total": total,
                "images_per_second": rate,
                "eta_seconds": (total - done) / rate if rate else None,
            }
        )
        if now - self._last_write >= _MIN_INTERVAL_S:
            self._write(now)

    def model_finished(self, slug: str, state: State, message: str | None = None) -> None:
        report = self._reports[slug]
        done = report.total if state == "done" else report.done
        self._reports[slug] = report.model_copy(
            update={"state": state, "message": message, "done": done, "eta_seconds": None}
        )
        self._write(self._clock())

    def finish(self, state: State, message: str | None = None) -> None:
        """The job ended: every model not yet finished gets ``state`` (and ``message``)."""
        for slug, report in self._reports.items():
            if report.state in ("queued", "running"):
                self._reports[slug] = report.model_copy(update={"state": state, "message": message})
        self._write(self._clock())

    def _totals(self, now: float) -> JobTotals:
        reports = self._reports.values()
        done = sum(report.done for report in reports)
        total = sum(report.total for report in reports)
        rate = self._job_rate(now, done)
        unfinished = any(report.state in ("queued", "running") for report in reports)
        return JobTotals(
            id=self._job_id,
            n_models=len(self._reports),
            models_done=sum(report.state == "done" for report in reports),
            done=done,
            total=total,
            images_per_second=rate,
            eta_seconds=(total - done) / rate if rate and unfinished else None,
        )

    def _write(self, now: float) -> None:
        self._last_write = now
        totals = self._totals(now) if len(self._reports) > 1 else None
        updated = datetime.now(UTC).isoformat()
        # Progress is advisory: the job must not depend on Redis being up.
        with contextlib.suppress(self._redis_error):
            pipe = self._client.pipeline(transaction=False)
            for slug, report in self._reports.items():
                record = report.model_copy(update={"updated": updated, "job": totals})
                pipe.set(PROGRESS_KEY_PREFIX + slug, record.model_dump_json(), ex=PROGRESS_TTL_S)
            pipe.execute()
