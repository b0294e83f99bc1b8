"""The bound on analyses: room for a few in each process and, with Redis, in the whole deployment (every
worker process and replica sharing it); a prompt refusal beyond them."""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Literal

from backend.core.cache import Cache, renewed
from backend.core.clock import Clock

log = logging.getLogger(__name__)

#: Which bound is in force: across the deployment (Redis reachable), or each process's alone.
Scope = Literal["deployment", "process"]


class AnalysisBusy(Exception):
    """The analysis queue is full; ``retry_after_s``: when trying again is likely to find room."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the server is busy analysing other images; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class SharedSlots:
    """``size`` analysis slots for every process sharing ``cache`` (Redis): a semaphore of leases.

    The slots are a sorted set of holders scored by lease expiry, taken atomically (a Lua script drops the
    expired leases, counts the rest and adds the holder). A holder renews its lease every third of
    ``lease_s`` while its analysis runs and removes it when done, so the slots of a process that dies
    (killed, out of memory) come back ``lease_s`` later. A lease that lapsed meanwhile (a stalled event
    loop) or that a Redis restart lost is taken again at the next renewal: the analysis is still running,
    and counting it keeps the bound honest. ``clock`` is the wall clock (Unix seconds), which every replica
    shares.
    """

    KEY = "qk:analysis-slots"

    def __init__(self, cache: Cache, size: int, *, lease_s: float, clock: Clock = time.time) -> None:
        self.size = size
        self._cache = cache
        self._lease_s = lease_s
        self._clock = clock

    async def take(self, holder: str) -> bool | None:
        """Whether ``holder`` got a slot; None while Redis is unreachable (or not configured)."""
        now = self._clock()
        return await self._cache.take_lease(self.KEY, holder, limit=self.size, now=now, expires=now + self._lease_s)

    @asynccontextmanager
    async def kept(self, holder: str) -> AsyncIterator[None]:
        """Renew ``holder``'s lease for the body's duration, and release it after."""

        async def renew() -> None:
            now = self._clock()
            await self._cache.renew_lease(self.KEY, holder, now=now, expires=now + self._lease_s)

        try:
            async with renewed(renew, self._lease_s / 3):
                yield
        finally:
            await self._cache.release_lease(self.KEY, holder)

    async def running(self) -> int | None:
        """Slots held now in the deployment; None while Redis is unreachable."""
        return await self._cache.count_leases(self.KEY, now=self._clock())


class AnalysisQueue:
    """At most ``size`` analyses running or waiting for one of the analysis threads in this process and,
    with ``shared`` slots, at most ``shared.size`` in every process sharing them; while Redis is
    unreachable, this process's bound alone (the scope in force is logged when it changes, and reported by
    ``bound()`` to /api/health).

    Only a new computation takes a slot: requests that join one in flight (single flight) do not.
    The wait suggested to a refused request is the mean time recent jobs spent in the queue (a moving
    average): when the queue is full, that is about how long it takes to drain, so the refused request
    (and those refused with it) come back to a queue with room rather than all at once into a full one.
    """

    #: The guess before any job has finished (an analysis of a ViT-B on a CPU takes about this long).
    PRIOR_S = 2.0
    MAX_RETRY_AFTER_S = 300

    def __init__(self, size: int, *, shared: SharedSlots | None = None, clock: Clock = time.monotonic) -> None:
        self.size = size
        self.jobs = 0
        self._shared = shared
        self._scope: Scope = "deployment" if shared is not None else "process"
        self._mean_s = self.PRIOR_S
        self._clock = clock

    def retry_after_s(self) -> int:
        return min(self.MAX_RETRY_AFTER_S, max(1, math.ceil(self._mean_s)))

    def _observe(self, scope: Scope) -> None:
        """Log when the bound in force changes (Redis lost or back)."""
        if self._shared is None or scope == self._scope:
            return
        self._scope = scope
        if scope == "process":
            log.warning(
                "Redis unreachable: analyses are bounded per worker process (%d) instead of across the deployment (%d)",
                self.size,
                self._shared.size,
            )
        else:
            log.warning("Redis reachable: analyses are bounded across the deployment (%d) again", self._shared.size)

    async def bound(self) -> tuple[Scope, int, int]:
        """The bound in force: its scope, its size, and the analyses running or waiting in that scope now."""
        running = None if self._shared is None else await self._shared.running()
        if self._shared is None or running is None:
            self._observe("process")
            return "process", self.size, self.jobs
        self._observe("deployment")
        return "deployment", self._shared.size, running

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the body's duration, or raise ``AnalysisBusy`` at once if none is free."""
        if self.jobs >= self.size:
            raise AnalysisBusy(self.retry_after_s())
        self.jobs += 1  # before any await: the check and the count are one step on the event loop
        try:
            holder = secrets.token_hex(8)
            taken = None if self._shared is None else await self._shared.take(holder)
            self._observe("process" if taken is None else "deployment")
            if taken is False:
                raise AnalysisBusy(self.retry_after_s())
            started = self._clock()
            try:
                async with self._shared.kept(holder) if self._shared is not None and taken else nullcontext():
                    yield
            finally:
                self._mean_s += 0.3 * (self._clock() - started - self._mean_s)
        finally:
            self.jobs -= 1
