"""``ports.ApiUsage`` in this process: one ``MinuteCounts`` per minute, the last hour kept."""

from __future__ import annotations

import time
from collections.abc import Callable

from turbocat_core import ports
from turbocat_core.domain.api_traffic import KEPT_MINUTES, MinuteCounts


class MemoryApiUsage:
    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._minutes: dict[int, MinuteCounts] = {}

    def record(self, status: int, seconds: float) -> None:
        count_in(self._minutes, int(self._now() // 60), status, seconds)

    async def last_minutes(self, minutes: int) -> MinuteCounts:
        return added(self._minutes, int(self._now() // 60), minutes)


def count_in(by_minute: dict[int, MinuteCounts], minute: int, status: int, seconds: float) -> None:
    """Count a request in its minute (minutes older than the last hour are dropped)."""
    counts = by_minute.get(minute)
    if counts is None:
        counts = by_minute[minute] = MinuteCounts()
        for old in [m for m in by_minute if m <= minute - KEPT_MINUTES]:
            del by_minute[old]
    counts.add(status, seconds)


def added(by_minute: dict[int, MinuteCounts], current: int, minutes: int) -> MinuteCounts:
    """The counts of minute ``current`` and the ``minutes - 1`` before it, added up."""
    total = MinuteCounts()
    for minute in range(current - minutes + 1, current + 1):
        counts = by_minute.get(minute)
        if counts is not None:
            total.merge(counts)
    return total


def _conforms(usage: MemoryApiUsage) -> ports.ApiUsage:
    """Never called: mypy checks here that the class matches its port."""
    return usage
