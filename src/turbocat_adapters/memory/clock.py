"""A clock for tests and embedding: virtual time that moves only when told to (or slept)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

_DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


class ManualClock:
    """``now()`` starts at ``start``; ``sleep(s)`` moves virtual time ``s`` seconds ahead.

    Every sleep is recorded in ``sleeps`` and yields to the event loop once, so concurrent
    tasks interleave as they would with a real clock, without waiting for real.
    """

    def __init__(
        self, start: datetime = _DEFAULT_START, *, monotonic_start: float = 1000.0
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._start = start
        self._monotonic_start = monotonic_start
        self._elapsed = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._monotonic_start + self._elapsed

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)

    def call_later(self, seconds: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        """In real time: this clock moves only when slept on or told to."""
        return asyncio.get_running_loop().call_later(seconds, callback)

    def timeout(self, seconds: float) -> asyncio.Timeout:
        """In real time, as :meth:`call_later`."""
        return asyncio.timeout(seconds)

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (negative amounts are ignored: time never runs back)."""
        if seconds > 0:
            self._elapsed += seconds
