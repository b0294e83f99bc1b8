"""One cache interface, two implementations: Redis, and an in-process store with TTLs.

The service keeps uploads, upload analyses, rendered overlays and rate-limit counters here, always
with a TTL, so nothing outlives it. ``RedisCache`` never fails a request: while Redis is unreachable
it serves from a bounded in-process store (reported as ``unavailable`` by ``/api/health``) and tries
Redis again after a short back-off, so it reconnects on its own when Redis returns.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis import asyncio as aioredis
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from backend.core.clock import Clock
from backend.schemas import RedisState

log = logging.getLogger(__name__)


class SharedStoreUnavailable(Exception):
    """The store the processes share (Redis) does not answer."""


class Cache(ABC):
    @abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    async def set_many(self, items: dict[str, bytes], ttl_s: int) -> None:
        """Store every item with the same TTL (seconds)."""

    async def set(self, key: str, value: bytes, ttl_s: int) -> None:
        await self.set_many({key: value}, ttl_s)

    async def get_shared(self, key: str) -> bytes | None:
        """The value as every process sharing this cache sees it; ``SharedStoreUnavailable`` while that store
        does not answer (a miss in this process's fallback would prove nothing)."""
        return await self.get(key)

    async def set_many_shared(self, items: dict[str, bytes], ttl_s: int) -> bool:
        """Store every item where every process sharing this cache sees it; False, storing nothing, while
        that store is unreachable (a write only this process would see could not be kept as promised)."""
        await self.set_many(items, ttl_s)
        return True

    @abstractmethod
    async def incr(self, key: str, ttl_s: int) -> int:
        """Increment a counter and return its new value; the counter expires ``ttl_s`` after creation."""

    @abstractmethod
    async def get_prefix(self, prefix: str, limit: int = 100) -> dict[str, bytes]:
        """Up to ``limit`` live entries whose key starts with ``prefix``."""

    @abstractmethod
    async def state(self) -> RedisState: ...

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def lock(self, key: str, ttl_s: float) -> str | None:
        """Take the lock ``key`` for every process sharing this cache, for at most ``ttl_s`` seconds: a
        token that releases it, or None while another process holds it.

        A cache that no other process shares (the in-process one, or Redis while it is unreachable) has
        nobody to exclude, so the lock is always taken; within one process ``SingleFlight`` does the rest.
        """
        return secrets.token_hex(16)

    async def unlock(self, key: str, token: str) -> None:  # noqa: B027 - nothing to release here
        """Release the lock ``key`` if ``token`` still holds it (it may have expired and been taken since)."""

    async def extend_lock(self, key: str, token: str, ttl_s: float) -> None:  # noqa: B027 - nothing held here
        """Let the lock ``key`` live ``ttl_s`` more seconds if ``token`` still holds it."""

    # Leases: ``limit`` holders at most of ``key`` across every process sharing this cache, each until its
    # lease expires (``expires``, on the clock ``now`` is read from) unless renewed. A cache that no other
    # process shares holds none: None, and the caller bounds its own process.

    async def take_lease(self, key: str, holder: str, *, limit: int, now: float, expires: float) -> bool | None:
        """Hold one of the ``limit`` leases of ``key`` until ``expires``: whether it was free, None if unshared."""
        return None

    async def renew_lease(self, key: str, holder: str, *, now: float, expires: float) -> None:  # noqa: B027 - nothing held
        """Extend ``holder``'s lease to ``expires``; taken again if it lapsed or the store lost it (a restart)."""

    async def release_lease(self, key: str, holder: str) -> None:  # noqa: B027 - nothing held
        """Give ``holder``'s lease back."""

    async def count_leases(self, key: str, *, now: float) -> int | None:
        """How many leases of ``key`` are live at ``now``; None if unshared."""
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass


@dataclass
class _Entry:
    value: bytes
    expires: float


class MemoryCache(Cache):
    """In-process LRU with per-entry expiry and a bound on the total size of the values.

    ``clock`` gives the current time in seconds; only differences matter (expiry = time of writing + TTL).
    """

    def __init__(self, max_bytes: int, *, clock: Clock = time.monotonic) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._counters: dict[str, tuple[int, float]] = {}
        self._bytes = 0
        self._max_bytes = max_bytes
        self._clock = clock

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= len(entry.value)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry.value

    async def set_many(self, items: dict[str, bytes], ttl_s: int) -> None:
        expires = self._clock() + ttl_s
        for key, value in items.items():
            if key in self._entries:
                self._drop(key)
            if len(value) > self._max_bytes:
                continue
            self._entries[key] = _Entry(value, expires)
            self._bytes += len(value)
        self._evict()

    def _evict(self) -> None:
        now = self._clock()
        for key in [k for k, e in self._entries.items() if e.expires <= now]:
            self._drop(key)
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))
        for key in [k for k, (_, expires) in self._counters.items() if expires <= now]:
            del self._counters[key]

    async def get_prefix(self, prefix: str, limit: int = 100) -> dict[str, bytes]:
        now = self._clock()
        found = {k: e.value for k, e in self._entries.items() if k.startswith(prefix) and e.expires > now}
        return dict(list(found.items())[:limit])

    async def incr(self, key: str, ttl_s: int) -> int:
        now = self._clock()
        count, expires = self._counters.get(key, (0, now + ttl_s))
        if expires <= now:
            count, expires = 0, now + ttl_s
        self._counters[key] = (count + 1, expires)
        if len(self._counters) > 100_000:
            self._evict()
        return count + 1

    async def state(self) -> RedisState:
        return RedisState.not_configured


#: Delete the lock KEYS[1] only if it still holds the token ARGV[1].
_UNLOCK = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""


#: Let the lock KEYS[1] live ARGV[2] ms more only if it still holds the token ARGV[1].
_EXTEND_LOCK = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("pexpire", KEYS[1], ARGV[2])
end
return 0
"""

#: Take a lease of KEYS[1] (a sorted set of holders scored by lease expiry) if one is free: drop the expired
#: leases, count the rest against the limit, add the holder. ARGV: now, expiry, limit, holder, key TTL (ms).
_TAKE_LEASE = """
redis.call("zremrangebyscore", KEYS[1], "-inf", ARGV[1])
if redis.call("zcard", KEYS[1]) >= tonumber(ARGV[3]) then
    return 0
end
redis.call("zadd", KEYS[1], ARGV[2], ARGV[4])
redis.call("pexpire", KEYS[1], ARGV[5])
return 1
"""


class RedisCache(Cache):
    """Redis, falling back to an in-process store while Redis is unreachable.

    Redis enforces the TTLs itself; ``clock`` only times the back-off before Redis is tried again.
    """

    def __init__(
        self, url: str, fallback: MemoryCache, retry_after_s: float = 1.0, *, clock: Clock = time.monotonic
    ) -> None:
        self._url = url
        self._clients: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}
        self._fallback = fallback
        self._retry_after_s = retry_after_s
        self._down_until = 0.0
        self._clock = clock

    @property
    def _redis(self) -> aioredis.Redis:
        """The client of the running event loop (asyncio connections cannot cross loops)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(
                self._url,
                socket_connect_timeout=0.5,
                socket_timeout=2.0,
                # One quick retry reconnects a connection that a Redis restart broke.
                retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
            )
            self._clients = {lp: c for lp, c in self._clients.items() if not lp.is_closed()}
            self._clients[loop] = client
        return client

    def _up(self) -> bool:
        return self._clock() >= self._down_until

    def _mark_down(self, error: Exception) -> None:
        if self._up():
            log.warning("Redis unreachable (%s); serving from the in-process cache", type(error).__name__)
        self._down_until = self._clock() + self._retry_after_s

    async def get(self, key: str) -> bytes | None:
        if self._up():
            try:
                value = await self._redis.get(key)
            except (RedisError, OSError) as error:
                self._mark_down(error)
            else:
                if isinstance(value, bytes):
                    return value
        # Items written while Redis was down live in the fallback until their TTL.
        return await self._fallback.get(key)

    async def set_many(self, items: dict[str, bytes], ttl_s: int) -> None:
        if not (self._up() and await self.set_many_shared(items, ttl_s)):
            await self._fallback.set_many(items, ttl_s)

    # Uploads ask Redis itself even during the back-off: they cannot be served from the fallback, and
    # they are few, so they find Redis back at once (and tell the other calls so).
    async def get_shared(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(key)
        except (RedisError, OSError) as error:
            self._mark_down(error)
            raise SharedStoreUnavailable() from error
        self._down_until = 0.0
        return value if isinstance(value, bytes) else None

    async def set_many_shared(self, items: dict[str, bytes], ttl_s: int) -> bool:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key, value in items.items():
                    pipe.set(key, value, ex=ttl_s)
                await pipe.execute()
        except (RedisError, OSError) as error:
            self._mark_down(error)
            return False
        self._down_until = 0.0
        return True

    async def get_prefix(self, prefix: str, limit: int = 100) -> dict[str, bytes]:
        if self._up():
            try:
                keys = [key async for key in self._redis.scan_iter(match=f"{prefix}*", count=100)][:limit]
                values = await self._redis.mget(keys) if keys else []
                return {
                    key.decode(): value for key, value in zip(keys, values, strict=True) if isinstance(value, bytes)
                }
            except (RedisError, OSError) as error:
                self._mark_down(error)
        return await self._fallback.get_prefix(prefix, limit)

    async def incr(self, key: str, ttl_s: int) -> int:
        if self._up():
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, ttl_s, nx=True)
                    count, _ = await pipe.execute()
                return int(count)
            except (RedisError, OSError) as error:
                self._mark_down(error)
        return await self._fallback.incr(key, ttl_s)

    async def exists(self, key: str) -> bool:
        if self._up():
            try:
                return bool(await self._redis.exists(key))
            except (RedisError, OSError) as error:
                self._mark_down(error)
        return await self._fallback.exists(key)

    async def lock(self, key: str, ttl_s: float) -> str | None:
        token = secrets.token_hex(16)
        if self._up():
            try:
                taken = await self._redis.set(key, token, nx=True, px=max(1, round(ttl_s * 1000)))
            except (RedisError, OSError) as error:
                self._mark_down(error)
            else:
                return token if taken else None
        # Unreachable: other replicas cannot be excluded, and waiting on them would fail the request.
        return token

    async def unlock(self, key: str, token: str) -> None:
        if not self._up():
            return  # the lock expires on its own
        try:
            # Compare and delete in one step: a lock that expired and was taken by another is not ours.
            await self._redis.eval(_UNLOCK, 1, key, token)
        except (RedisError, OSError) as error:
            self._mark_down(error)

    async def extend_lock(self, key: str, token: str, ttl_s: float) -> None:
        if not self._up():
            return
        try:
            await self._redis.eval(_EXTEND_LOCK, 1, key, token, max(1, round(ttl_s * 1000)))
        except (RedisError, OSError) as error:
            self._mark_down(error)

    @staticmethod
    def _lease_ttl_ms(now: float, expires: float) -> int:
        # The set lives as long as the lease just written (every holder renews well within it).
        return max(1, math.ceil((expires - now) * 1000))

    async def take_lease(self, key: str, holder: str, *, limit: int, now: float, expires: float) -> bool | None:
        if not self._up():
            return None
        try:
            ttl_ms = self._lease_ttl_ms(now, expires)
            taken = await self._redis.eval(_TAKE_LEASE, 1, key, now, expires, limit, holder, ttl_ms)
        except (RedisError, OSError) as error:
            self._mark_down(error)
            return None
        return bool(taken)

    async def renew_lease(self, key: str, holder: str, *, now: float, expires: float) -> None:
        if not self._up():
            return
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zadd(key, {holder: expires})
                pipe.pexpire(key, self._lease_ttl_ms(now, expires))
                await pipe.execute()
        except (RedisError, OSError) as error:
            self._mark_down(error)

    async def release_lease(self, key: str, holder: str) -> None:
        if not self._up():
            return  # the lease expires on its own
        try:
            await self._redis.zrem(key, holder)
        except (RedisError, OSError) as error:
            self._mark_down(error)

    async def count_leases(self, key: str, *, now: float) -> int | None:
        if not self._up():
            return None
        try:
            return int(await self._redis.zcount(key, f"({now}", "+inf"))
        except (RedisError, OSError) as error:
            self._mark_down(error)
            return None

    async def state(self) -> RedisState:
        """Ping Redis now (even during the back-off), so health reflects a recovery at once."""
        try:
            await self._redis.ping()
        except (RedisError, OSError) as error:
            self._mark_down(error)
            return RedisState.unavailable
        if not self._up():
            log.warning("Redis is reachable again")
        self._down_until = 0.0
        return RedisState.ok

    async def close(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


class LocalFirstCache(Cache):
    """A per-process LRU (``local``) in front of a cache the processes share (``shared``), for values
    that never change under their key: rendered atlas overlays, whose keys name the atlas revision.
    A repeated read costs no round trip to Redis (under load those round trips, not the rendering, made
    the tail). Values read from ``shared`` are kept locally for ``local_ttl_s``; writes go to both;
    counters, locks, prefix reads and the state are the shared cache's.
    """

    def __init__(self, local: MemoryCache, shared: Cache, *, local_ttl_s: int) -> None:
        self._local, self._shared, self._local_ttl_s = local, shared, local_ttl_s

    async def get(self, key: str) -> bytes | None:
        value = await self._local.get(key)
        if value is None:
            value = await self._shared.get(key)
            if value is not None:
                await self._local.set(key, value, self._local_ttl_s)
        return value

    async def set_many(self, items: dict[str, bytes], ttl_s: int) -> None:
        await self._local.set_many(items, min(ttl_s, self._local_ttl_s))
        await self._shared.set_many(items, ttl_s)

    async def get_shared(self, key: str) -> bytes | None:
        return await self._shared.get_shared(key)

    async def set_many_shared(self, items: dict[str, bytes], ttl_s: int) -> bool:
        return await self._shared.set_many_shared(items, ttl_s)

    async def incr(self, key: str, ttl_s: int) -> int:
        return await self._shared.incr(key, ttl_s)

    async def get_prefix(self, prefix: str, limit: int = 100) -> dict[str, bytes]:
        return await self._shared.get_prefix(prefix, limit)

    async def state(self) -> RedisState:
        return await self._shared.state()

    async def lock(self, key: str, ttl_s: float) -> str | None:
        return await self._shared.lock(key, ttl_s)

    async def unlock(self, key: str, token: str) -> None:
        await self._shared.unlock(key, token)

    async def extend_lock(self, key: str, token: str, ttl_s: float) -> None:
        await self._shared.extend_lock(key, token, ttl_s)

    async def take_lease(self, key: str, holder: str, *, limit: int, now: float, expires: float) -> bool | None:
        return await self._shared.take_lease(key, holder, limit=limit, now=now, expires=expires)

    async def renew_lease(self, key: str, holder: str, *, now: float, expires: float) -> None:
        await self._shared.renew_lease(key, holder, now=now, expires=expires)

    async def release_lease(self, key: str, holder: str) -> None:
        await self._shared.release_lease(key, holder)

    async def count_leases(self, key: str, *, now: float) -> int | None:
        return await self._shared.count_leases(key, now=now)


@asynccontextmanager
async def renewed(renew: Callable[[], Awaitable[None]], every_s: float) -> AsyncIterator[None]:
    """Call ``renew()`` every ``every_s`` seconds while the body runs: what keeps a lease or a lock held by a
    live process (one that dies stops renewing, and what it held expires)."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every_s)
            await renew()

    renewing = asyncio.create_task(loop())
    try:
        yield
    finally:
        renewing.cancel()


def make_cache(redis_url: str | None, memory_bytes: int, *, clock: Clock = time.monotonic) -> Cache:
    memory = MemoryCache(memory_bytes, clock=clock)
    return memory if redis_url is None else RedisCache(redis_url, memory, clock=clock)
