"""Per-key single flight: concurrent callers with the same key share one computation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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
