"""Test doubles shared by the tiers."""

from __future__ import annotations


class FakeClock:
    """A clock (``backend.core.clock.Clock``) that only moves when told: TTLs and rate-limit windows are
    tested by advancing it, not by sleeping. It starts at a plausible Unix time, so it can stand in for
    the wall clock as well as for ``time.monotonic``: a UTC midnight, where every window that divides a
    day (a minute, an hour) starts, so a test is never at the edge of one unless it moves there."""

    def __init__(self, start: float = 1_700_006_400.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "a clock does not go back"
        self.now += seconds
