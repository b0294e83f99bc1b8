"""Clocks: what the service reads the time from, injected so that tests can advance a fake one.

A clock is a function returning seconds as a float. Expiry inside one process (the in-process cache,
Redis back-off) only needs differences (``time.monotonic``); anything stored for other replicas or
shared with Redis (an upload's expiry time, rate-limit windows) needs the wall clock (``time.time``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

Clock: TypeAlias = Callable[[], float]
