"""Time: wall time, durations and waiting (a test clock moves all the core waits for)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol


class Timer(Protocol):
    """A callback set to run later (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Wall time (UTC, aware), a monotonic reading for durations, and waiting.

    Everything the engine waits for (retry backoffs, WAIT steps, delayed jobs, attempt
    timeouts, a run's deadline) goes through the clock, so a test clock can move it.
    """

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` on the running event loop once ``seconds`` have passed."""
        ...

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        """``asyncio.timeout(seconds)`` in this clock's time: the block's task is
        cancelled when they have passed, and ``TimeoutError`` comes out of the block."""
        ...
