"""The bounded queue of analyses in this process: room for a few, and a prompt refusal beyond them."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from backend.core.clock import Clock


class AnalysisBusy(Exception):
    """The analysis queue is full; ``retry_after_s``: when trying again is likely to find room."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the server is busy analysing other images; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class AnalysisQueue:
    """At most ``size`` analyses running or waiting for one of the analysis threads, in this process.

    Only a new computation takes a slot: requests that join one in flight (single flight) do not.
    The wait suggested to a refused request is the mean time recent jobs spent in the queue (a moving
    average): when the queue is full, that is about how long it takes to drain, so the refused request
    (and those refused with it) come back to a queue with room rather than all at once into a full one.
    """

    #: The guess before any job has finished (an analysis of a ViT-B on a CPU takes about this long).
    PRIOR_S = 2.0
    MAX_RETRY_AFTER_S = 300

    def __init__(self, size: int, *, clock: Clock = time.monotonic) -> None:
        self.size = size
        self.jobs = 0
        self._mean_s = self.PRIOR_S
        self._clock = clock

    def retry_after_s(self) -> int:
        return min(self.MAX_RETRY_AFTER_S, max(1, math.ceil(self._mean_s)))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the body's duration, or raise ``AnalysisBusy`` at once if none is free."""
        if self.jobs >= self.size:
            raise AnalysisBusy(self.retry_after_s())
        self.jobs += 1
        started = self._clock()
        try:
            yield
        finally:
            self.jobs -= 1
            self._mean_s += 0.3 * (self._clock() - started - self._mean_s)
