"""A clock for tests whose time skips ahead whenever everything is waiting on it."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

Mode = Literal["skip", "manual"]
QUIET_TURNS: Final = 2
"""Event-loop turns in a row with nothing else to run before time skips: one more turn
than needed lets the loop look at its sockets (a non-blocking select) before the jump."""


class _Timer:
    """One deadline on the virtual timeline (a sleeper or a ``call_later``)."""

    __slots__ = ("callback", "cancelled", "due", "seq")

    def __init__(self, due: float, seq: int, callback: Callable[[], object]) -> None:
        self.due = due
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def __lt__(self, other: _Timer) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """The ``Clock`` of a test runtime (``Turbocat.for_tests``).

    ``mode="skip"`` (the default): time runs as the wall clock does, and whenever nothing
    is runnable on the event loop and no step's agent is working (every run is waiting on
    time: a WAIT step, a retry backoff, a queued run's next look, a deadline), it jumps to
    the next due time. A one-hour WAIT takes a few event-loop turns; the execution's
    timestamps read as if the hour had passed.

    ``mode="manual"``: time stands still until ``await clock.advance(seconds)`` moves it;
    ``await clock.idle()`` waits until the runs have got as far as they can without time.

    Steps' agents (Python functions, HTTP calls, code) run in real time: while one works
    (:meth:`busy`), time does not skip, so an attempt's ``timeoutSeconds`` is measured as
    it would be in production. The test runtime marks that itself.
    """

    def __init__(self, mode: Mode = "skip", *, start: datetime | None = None) -> None:
        if mode not in ("skip", "manual"):
            raise ValueError(f"VirtualClock mode is 'skip' or 'manual', not {mode!r}")
        if start is not None and start.tzinfo is None:
            raise ValueError("VirtualClock needs an aware datetime as its start")
        self.mode: Mode = mode
        self._start = start or datetime.now(UTC)
        self._real0 = time.monotonic()
        self._offset = 0.0
        """Seconds skipped (skip mode) or advanced (manual mode)."""
        self._timers: list[_Timer] = []
        self._seq = itertools.count()
        self._busy = 0
        self._changed: asyncio.Event | None = None
        self._driver: asyncio.Task[None] | None = None
        self._alarm: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.skipped = 0.0
        """Seconds of virtual time skipped so far (skip mode)."""

    # --- reading ----------------------------------------------------------------------

    def monotonic(self) -> float:
        if self.mode == "manual":
            return self._real0 + self._offset
        return time.monotonic() + self._offset

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.monotonic() - self._real0)

    # --- waiting ----------------------------------------------------------------------

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await future
        finally:
            timer.cancel()

    def call_later(self, seconds: float, callback: Callable[[], object]) -> _Timer:
        self._attach()
        timer = _Timer(self.monotonic() + max(0.0, seconds), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        if self._timers[0] is timer:
            self._rearm()
        self._poke()
        return timer

    def timeout(self, seconds: float) -> _Timeout:
        return _Timeout(self, seconds)

    # --- moving time ------------------------------------------------------------------

    async def advance(self, seconds: float) -> None:
        """Move time ``seconds`` ahead (in either mode), through each due time in turn: what
        comes due first fires first, and the runs react to it (until nothing else is
        runnable) before time moves on. Returns with time there and the runs settled.
        Negative amounts are ignored: time never runs back."""
        target = self.monotonic() + max(0.0, seconds)
        while True:
            await self.idle()
            head = self._live()
            if head is None or head.due > target:
                break
            self._move_to(head.due)
            self._fire_due()
        self._move_to(target)
        await self.idle()

    async def idle(self) -> None:
        """Return once nothing else is runnable on the event loop and no step's agent is
        working: every run has got as far as it can without time moving."""
        self._attach()
        quiet = 0
        while quiet < QUIET_TURNS:
            await asyncio.sleep(0)
            quiet = quiet + 1 if self._alone() else 0
            if self._busy:
                quiet = 0
                await self._wait_changed()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Real work is under way inside the block (a step's agent): time does not skip."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            self._poke()

    @contextlib.contextmanager
    def skippable(self) -> Iterator[None]:
        """Inside :meth:`busy`, a stretch that only waits (for time or to be cancelled): time
        may skip meanwhile, as if the work were not under way. Outside :meth:`busy` it
        changes nothing."""
        held = self._busy > 0
        if held:
            self._busy -= 1
            self._poke()
        try:
            yield
        finally:
            if held:
                self._busy += 1

    # --- the machinery ----------------------------------------------------------------

    def _attach(self) -> None:
        """Bind to the running event loop (a runtime may be opened in several in turn)."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        self._loop = loop
        self._changed = asyncio.Event()
        self._alarm = None
        self._timers = [timer for timer in self._timers if not timer.cancelled]
        heapq.heapify(self._timers)
        if self.mode == "skip":
            if getattr(loop, "_ready", None) is None:
                raise RuntimeError(
                    "time skipping needs asyncio's own event loop; use mode='manual' with this one"
                )
            self._driver = loop.create_task(self._drive(), name="turbocat-virtual-clock")

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def _wait_changed(self) -> None:
        assert self._changed is not None
        self._changed.clear()
        await self._changed.wait()

    def _alone(self) -> bool:
        """Whether the calling task is the only thing the event loop has to run now."""
        return not self._loop._ready  # type: ignore[union-attr]

    def _live(self) -> _Timer | None:
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0] if self._timers else None

    async def _drive(self) -> None:
        """Skip to the next due time whenever the event loop has nothing else to do."""
        quiet = 0
        while True:
            head = self._live()
            if self._busy or head is None or not math.isfinite(head.due):
                quiet = 0
                await self._wait_changed()
                continue
            await asyncio.sleep(0)
            quiet = quiet + 1 if self._alone() and not self._busy else 0
            if quiet >= QUIET_TURNS:
                quiet = 0
                head = self._live()
                if head is not None:
                    self.skipped += self._move_to(head.due)
                self._fire_due()

    def _move_to(self, due: float) -> float:
        """Move time forward to ``due`` (never back); the seconds it moved."""
        jump = max(0.0, due - self.monotonic())
        self._offset += jump
        return jump

    def _fire_due(self) -> None:
        now = self.monotonic()
        while (head := self._live()) is not None and head.due <= now:
            heapq.heappop(self._timers)
            head.cancelled = True
            head.callback()
        self._rearm()

    def _rearm(self) -> None:
        """Skip mode: an alarm in real time for the next due time (time also passes while
        agents work, and a deadline may come due then)."""
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None
        head = self._live()
        due = head is not None and math.isfinite(head.due)
        if self.mode == "skip" and due and self._loop is not None:
            assert head is not None
            self._alarm = self._loop.call_later(head.due - self.monotonic(), self._fire_due)

    def close(self) -> None:
        """Stop skipping on the current event loop (the runtime calls it when it closes)."""
        if self._driver is not None:
            self._driver.cancel()
            self._driver = None
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None
        self._loop = None
        self._changed = None


class _Timeout:
    """``asyncio.timeout`` whose deadline is on a :class:`VirtualClock`."""

    __slots__ = ("_clock", "_scope", "_seconds", "_timer")

    def __init__(self, clock: VirtualClock, seconds: float) -> None:
        self._clock = clock
        self._seconds = seconds
        self._scope = asyncio.timeout(None)
        self._timer: _Timer | None = None

    async def __aenter__(self) -> _Timeout:
        await self._scope.__aenter__()
        loop = asyncio.get_running_loop()
        self._timer = self._clock.call_later(
            self._seconds, lambda: self._scope.reschedule(loop.time())
        )
        return self

    async def __aexit__(self, *exc_info: object) -> bool | None:
        if self._timer is not None:
            self._timer.cancel()
        await self._scope.__aexit__(*exc_info)  # type: ignore[arg-type]
        return None
