"""Single flight: concurrent callers of one computation share it, within a process (``SingleFlight``)
and across the processes sharing a cache: workers and replicas on one Redis (``SharedFlight``); ``Flights``
is the two together, as analyses use them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from backend.core.cache import Cache, renewed
from backend.core.clock import Clock

log = logging.getLogger(__name__)
T = TypeVar("T")


class SingleFlight:
    def __init__(self) -> None:
        self._running: dict[str, asyncio.Task[Any]] = {}

    async def run(self, key: str, compute: Callable[[], Awaitable[T]]) -> T:
        """Await ``compute()``, or the computation already running under ``key``.

        The computation runs as its own task: a caller that goes away (client disconnect) does not
        cancel it for the others.
        """
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._running[key] = task
            task.add_done_callback(lambda _t: self._running.pop(key, None))
        result: T = await asyncio.shield(task)
        return result


class SharedFlight:
    """One computation per key across every process sharing ``cache`` (Redis), through a lock in it.

    The process that takes the lock computes and stores the result; the others poll (with back-off)
    until the result is in the cache, and read it there. Polling rather than pub/sub: a waiter needs
    nothing from the holder but the cache entry it writes anyway, and a holder that crashes leaves
    nothing to unsubscribe. The lock is leased for ``lease_s`` and renewed while the computation runs,
    so a holder that dies (killed, out of memory) frees it ``lease_s`` later: a waiter takes it then
    and computes itself, as it does when the lock is free without a result (the holder failed, or a
    Redis restart lost lock and result). A waiter waits ``lock_s`` at the most, even for a live holder
    (a stuck one), then computes too. Without Redis (or while it is unreachable) every lock is granted:
    computing in each process is the fallback, never a failed request.
    """

    def __init__(
        self,
        cache: Cache,
        *,
        lock_s: float,
        lease_s: float,
        clock: Clock = time.monotonic,
        max_poll_s: float = 0.5,
    ) -> None:
        self._cache = cache
        self._lock_s = lock_s
        self._lease_s = lease_s
        self._clock = clock
        self._max_poll_s = max_poll_s

    async def run(self, key: str, done_key: str, compute: Callable[[], Awaitable[T]]) -> T | None:
        """``compute()`` under the lock of ``key``, or None once another process stored its result under
        ``done_key`` (the caller reads the cache). ``compute`` must store that result before it returns."""
        lock_key = f"qk:lock:{key.removeprefix('qk:')}"
        deadline = self._clock() + self._lock_s
        delay = 0.02
        while (token := await self._cache.lock(lock_key, self._lease_s)) is None:
            if await self._cache.exists(done_key):
                return None
            if self._clock() >= deadline:
                log.warning("another process held %s for %.0f s; computing it here too", key, self._lock_s)
                break
            await asyncio.sleep(delay)
            delay = min(2 * delay, self._max_poll_s)
        try:
            # Another process may have finished between the caller's cache miss and the lock.
            if token is not None and await self._cache.exists(done_key):
                return None
            if token is None:
                return await compute()
            async with renewed(lambda: self._cache.extend_lock(lock_key, token, self._lease_s), self._lease_s / 3):
                return await compute()
        finally:
            if token is not None:
                await self._cache.unlock(lock_key, token)


class Flights:
    """One computation per key in this process, and, when asked, in every process sharing ``cache``."""

    def __init__(self, cache: Cache, *, lock_s: float, lease_s: float) -> None:
        self.here = SingleFlight()
        self._shared = SharedFlight(cache, lock_s=lock_s, lease_s=lease_s)

    async def run(self, key: str, done_key: str, shared: bool, compute: Callable[[], Awaitable[T]]) -> T | None:
        """``compute()`` once for every caller of ``key`` in this process and, if ``shared``, in every
        process sharing the cache; None when another process computed it (and stored ``done_key``)."""
        if not shared:
            return await self.here.run(f"{key}:here", compute)
        return await self.here.run(key, lambda: self._shared.run(key, done_key, compute))
