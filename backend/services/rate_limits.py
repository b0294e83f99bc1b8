"""Fixed-window rate limits per client address, counted in the shared cache (so every worker process and
replica counts against one limit through Redis): what uploads and shared mode lists are limited by."""

from __future__ import annotations

import time

from backend.core.cache import Cache
from backend.core.clock import Clock


class RateLimiter:
    """Counters in ``cache``; ``clock`` is the wall clock whose windows every replica shares."""

    def __init__(self, cache: Cache, *, clock: Clock = time.time) -> None:
        self._cache = cache
        self._clock = clock

    async def allow(self, action: str, client: str, *, limit: int, window_s: int) -> bool:
        """Counts one ``action`` (``uploads``, ``lists``) by ``client``; whether it is within ``limit`` in the
        current window of ``window_s`` seconds."""
        window = int(self._clock() // window_s)
        return await self._cache.incr(f"qk:ratelimit:{action}:{client}:{window}", window_s) <= limit
