"""The in-process cache (the embedded default, and Redis' fallback): TTLs, size bound, counters; the
per-process tier in front of a shared cache."""

from __future__ import annotations

import asyncio

from backend.core.cache import LocalFirstCache, MemoryCache
from backend.schemas import RedisState
from tests.fakes import FakeClock


def test_values_expire_after_their_ttl(clock: FakeClock) -> None:
    async def scenario() -> None:
        cache = MemoryCache(1024, clock=clock)
        await cache.set("a", b"1", ttl_s=1)
        assert await cache.get("a") == b"1"
        clock.advance(0.99)
        assert await cache.get("a") == b"1"
        assert await cache.get_prefix("") == {"a": b"1"}
        clock.advance(0.01)
        assert await cache.get("a") is None
        assert await cache.get_prefix("") == {}

    asyncio.run(scenario())


def test_size_bound_evicts_least_recently_used() -> None:
    async def scenario() -> None:
        cache = MemoryCache(max_bytes=10)
        await cache.set_many({"a": b"1234", "b": b"5678"}, ttl_s=60)
        assert await cache.get("a") == b"1234"  # a is now the most recently used
        await cache.set("c", b"9012", ttl_s=60)
        assert await cache.get("b") is None
        assert await cache.get("a") == b"1234" and await cache.get("c") == b"9012"
        await cache.set("huge", b"x" * 11, ttl_s=60)  # larger than the whole cache: not stored
        assert await cache.get("huge") is None

    asyncio.run(scenario())


def test_expired_entries_free_their_room_first(clock: FakeClock) -> None:
    async def scenario() -> None:
        cache = MemoryCache(max_bytes=10, clock=clock)
        await cache.set("old", b"1234", ttl_s=1)
        await cache.set("young", b"5678", ttl_s=60)
        assert await cache.get("old") == b"1234"  # old is now the most recently used ...
        clock.advance(1)  # ... but expired
        await cache.set("new", b"9012", ttl_s=60)  # the expired entry goes, not the least recently used
        assert await cache.get("young") == b"5678" and await cache.get("new") == b"9012"

    asyncio.run(scenario())


def test_counters_count_within_a_window_and_reset_after_it(clock: FakeClock) -> None:
    async def scenario() -> None:
        cache = MemoryCache(1024, clock=clock)
        assert [await cache.incr("k", ttl_s=1) for _ in range(3)] == [1, 2, 3]
        clock.advance(0.99)
        assert await cache.incr("k", ttl_s=1) == 4  # the window runs from the first increment
        clock.advance(0.01)
        assert await cache.incr("k", ttl_s=1) == 1

    asyncio.run(scenario())


def test_state_is_not_configured() -> None:
    assert asyncio.run(MemoryCache(1).state()) is RedisState.not_configured


class _CountingCache(MemoryCache):
    """A shared cache that counts the reads that reach it."""

    def __init__(self) -> None:
        super().__init__(1 << 20)
        self.reads = 0

    async def get(self, key: str) -> bytes | None:
        self.reads += 1
        return await super().get(key)


def test_local_first_reads_the_shared_cache_once_per_key_and_writes_both(clock: FakeClock) -> None:
    async def scenario() -> None:
        shared = _CountingCache()
        await shared.set("rendered elsewhere", b"png", ttl_s=60)
        cache = LocalFirstCache(MemoryCache(1 << 20, clock=clock), shared, local_ttl_s=10)
        assert [await cache.get("rendered elsewhere") for _ in range(3)] == [b"png"] * 3
        assert shared.reads == 1  # then kept locally
        await cache.set("rendered here", b"new", ttl_s=60)
        assert await shared.get("rendered here") == b"new"  # other processes see it
        reads = shared.reads
        assert await cache.get("rendered here") == b"new" and shared.reads == reads
        assert await cache.get("missing") is None and shared.reads == reads + 1
        clock.advance(10)  # the local copy expires, the shared one lives on
        assert await cache.get("rendered elsewhere") == b"png" and shared.reads == reads + 2
        assert await cache.incr("counter", ttl_s=60) == 1 and await shared.incr("counter", ttl_s=60) == 2

    asyncio.run(scenario())
