"""The deployment-wide bound on analyses: slots leased in a real Redis, shared by every process, renewed
while an analysis runs, coming back when a dead holder's lease expires, and each process's own bound while
Redis is away. Leases expire on a fake clock; renewals run on the real one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Any

import pytest

from backend.core.cache import MemoryCache, RedisCache
from backend.services.analysis.queue import AnalysisBusy, AnalysisQueue, SharedSlots
from tests.helpers.backend import RedisServer, until
from tests.helpers.clock import FakeClock

LEASE_S = 10.0


def _process(redis: RedisServer, clock: FakeClock, *, size: int, slots: int, lease_s: float = LEASE_S) -> AnalysisQueue:
    """One worker process's queue: a cache of its own (a connection of its own) on the shared Redis."""
    cache = RedisCache(redis.url, MemoryCache(1 << 20))
    return AnalysisQueue(size, shared=SharedSlots(cache, slots, lease_s=lease_s, clock=clock))


def _run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def _refused(queue: AnalysisQueue) -> bool:
    try:
        async with queue.slot():
            return False
    except AnalysisBusy as busy:
        assert busy.retry_after_s >= 1
        return True


def test_the_bound_is_shared_by_every_process(redis_server: RedisServer, clock: FakeClock) -> None:
    async def scenario() -> None:
        first, second = (_process(redis_server, clock, size=4, slots=3) for _ in range(2))
        async with AsyncExitStack() as held:
            for queue in (first, first, second):
                await held.enter_async_context(queue.slot())
            assert redis_server.client().zcard(SharedSlots.KEY) == 3
            # Each process has room of its own (4), but the deployment has none.
            assert await _refused(first) and await _refused(second)
            assert await first.bound() == ("deployment", 3, 3)
        assert redis_server.client().zcard(SharedSlots.KEY) == 0, "released when the analyses end"
        async with first.slot(), second.slot(), second.slot():
            assert await second.bound() == ("deployment", 3, 3)

    _run(scenario)


def test_a_dead_holders_slots_come_back_when_their_leases_expire(redis_server: RedisServer, clock: FakeClock) -> None:
    async def scenario() -> None:
        dead = SharedSlots(RedisCache(redis_server.url, MemoryCache(1 << 20)), 2, lease_s=LEASE_S, clock=clock)
        # A process that took two slots and was killed: nobody renews or releases them.
        assert await dead.take("killed-1") and await dead.take("killed-2")
        alive = _process(redis_server, clock, size=4, slots=2)
        assert await _refused(alive)
        clock.advance(LEASE_S - 1)
        assert await _refused(alive), "a lease holds until it expires"
        clock.advance(1)
        async with alive.slot(), alive.slot():
            assert await alive.bound() == ("deployment", 2, 2)
            assert await _refused(alive)

    _run(scenario)


def test_a_running_analysis_renews_its_lease(redis_server: RedisServer, clock: FakeClock) -> None:
    lease_s = 0.3  # renewed every 0.1 s of real time; expiry read on the fake clock

    async def scenario() -> None:
        holder, other = (_process(redis_server, clock, size=4, slots=1, lease_s=lease_s) for _ in range(2))
        redis = redis_server.client()
        async with holder.slot():
            clock.advance(100 * lease_s)  # long past the first lease
            # Renewed: its lease now expires after the fake clock's present.
            await until(lambda: redis.zcount(SharedSlots.KEY, f"({clock.now}", "+inf") == 1, what="a renewal")
            assert await _refused(other), "a renewed lease still holds the slot"
        assert redis.zcard(SharedSlots.KEY) == 0
        async with other.slot():
            pass

    _run(scenario)


def test_a_redis_restart_mid_analysis_leaks_no_slot(redis_server: RedisServer, clock: FakeClock) -> None:
    async def scenario() -> None:
        queue = _process(redis_server, clock, size=4, slots=1, lease_s=0.3)
        redis = redis_server.client()
        async with queue.slot():
            redis_server.stop()
            redis_server.start()  # empty: the slot is forgotten, and retaken at the next renewal
            await until(lambda: redis.zcard(SharedSlots.KEY) == 1, what="the lease renewed in the new Redis")
        assert redis.zcard(SharedSlots.KEY) == 0

    _run(scenario)


def test_without_redis_each_process_is_bounded_alone(
    redis_server: RedisServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        cache = RedisCache(redis_server.url, MemoryCache(1 << 20))
        queue = AnalysisQueue(2, shared=SharedSlots(cache, 1, lease_s=LEASE_S, clock=clock))
        redis_server.stop()
        async with queue.slot(), queue.slot():  # the process's 2, not the deployment's 1
            assert await _refused(queue)
            assert await queue.bound() == ("process", 2, 2)
        assert "bounded per worker process (2) instead of across the deployment (1)" in caplog.text
        redis_server.start()
        await cache.state()  # as /api/health does: tries Redis at once, not after the back-off
        assert await queue.bound() == ("deployment", 1, 0)
        async with queue.slot():
            assert await _refused(queue)

    _run(scenario)
