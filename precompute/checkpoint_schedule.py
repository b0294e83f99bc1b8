"""When the stream takes its next checkpoint.

A checkpoint holds a host copy of every top-K (11 GB for the paper's 13 models), so the stream never
queues one while the last is still being written, and waits ``CHECKPOINT_SHARE`` times as long as
the last one took to write: the background writer spends at most ``1 / CHECKPOINT_SHARE`` of the
stream on checkpoints. The rule reads time from an injected clock, so tests drive it without
depending on how fast the machine is.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

#: Seconds from an arbitrary origin, never going back (``time.perf_counter`` by default).
Clock = Callable[[], float]

#: The next checkpoint is due ``max(--checkpoint-every, CHECKPOINT_SHARE × the seconds the last one
#: took to write)`` after the last one was queued.
CHECKPOINT_SHARE = 10


class CheckpointSchedule:
    """``due`` says whether a checkpoint should be taken now; it is queued within ``taking``; each of its files
    is written through ``timed`` (on the writer thread), which measures the write."""

    def __init__(self, every_s: float, clock: Clock = time.perf_counter) -> None:
        self.every_s = every_s
        self.clock = clock
        self._last_queued = clock()
        self._write_seconds = 0.0  # the last checkpoint's files, summed
        self._lock = threading.Lock()

    def due(self, writing: bool) -> bool:
        """Whether to queue a checkpoint now; ``writing``: the last one is not all on disk yet."""
        if writing:
            return False
        with self._lock:
            interval = max(self.every_s, CHECKPOINT_SHARE * self._write_seconds)
        return self.clock() - self._last_queued >= interval

    @contextlib.contextmanager
    def taking(self) -> Iterator[None]:
        """Queue a checkpoint within: the next one is timed from the end of the block and from the
        writes queued in it (which may start before it ends)."""
        with self._lock:
            self._write_seconds = 0.0
        yield
        self._last_queued = self.clock()

    def timed(self, write: Callable[[], None]) -> None:
        """Run ``write`` (one file of the checkpoint just queued) and count its duration."""
        start = self.clock()
        write()
        with self._lock:
            self._write_seconds += self.clock() - start
