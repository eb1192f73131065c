"""The in-process scheduler: a task that fires deployments' cron ticks as they come due.

It wakes at least every ``interval`` seconds (1 by default), and each time hands
``FireDueSchedules`` the window from the end of the last window it handled to now. Windows
never overlap, so in one process every tick fires exactly once, however late the loop
wakes; ticks missed by more than the catch-up window (the process was stopped or stalled)
are skipped with a log line. Ticks from before ``start()`` are never fired: another
process may have fired them. In a fleet every worker runs one, and each tick fires once in
whichever worker claims it first (``FireDueSchedules.claims``, in Redis).

In a server::

    scheduler = container.scheduler()
    app = create_app(container, lifespan=[lambda _app: scheduler.running()])
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from turbocat_core.domain.common import DeploymentId, utc_text
from turbocat_core.ports.clock import Clock
from turbocat_core.usecases.scheduling import FireDueSchedules, Round

logger = logging.getLogger("turbocat.scheduler")

DEFAULT_INTERVAL = 1.0


class Scheduler:
    """``start()``/``stop()`` (or ``async with scheduler.running():``) around a loop of
    :meth:`run_once`; tests can call :meth:`run_once` themselves with a manual clock."""

    def __init__(
        self, fire: FireDueSchedules, clock: Clock, *, interval: float = DEFAULT_INTERVAL
    ) -> None:
        if interval <= 0:
            raise ValueError("the interval must be positive")
        self._fire = fire
        self._clock = clock
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._handled_until: datetime | None = None
        self._reported: set[tuple[DeploymentId, str]] = set()
        self.rounds = 0
        """Rounds completed (for tests and health reports)."""

    @property
    def handled_until(self) -> datetime | None:
        """The end of the last window handled: ticks up to here have been dealt with."""
        return self._handled_until

    @property
    def running_now(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Begin firing ticks that come after now (idempotent)."""
        if self.running_now:
            return
        if self._handled_until is None:
            self._handled_until = self._clock.now()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="turbocat-scheduler")

    async def stop(self) -> None:
        """Stop the loop and wait for it (a round in progress is interrupted)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """``start()`` on entry, ``stop()`` on exit: a lifespan for the HTTP app."""
        self.start()
        try:
            yield
        finally:
            await self.stop()

    async def run_once(self) -> Round | None:
        """Handle the window from the last one's end to now; ``None`` if it failed (the
        deployments could not be read: the same window is tried again next time)."""
        now = self._clock.now()
        after = self._handled_until
        if after is None:
            self._handled_until = now
            return None
        if now <= after:
            return Round(fired=[], skipped=[], invalid=[])
        try:
            targets = await self._fire.targets()
        except Exception:
            logger.exception("scheduler: could not read the deployments; will try again")
            return None
        # From here ticks start executions: the window is handled whatever happens next.
        self._handled_until = now
        result = await self._fire.fire(targets, after=after, now=now)
        self.rounds += 1
        self._report(result)
        return result

    def _report(self, result: Round) -> None:
        for fired in result.fired:
            if fired.error is None:
                logger.info(
                    "scheduler: deployment %s tick %s started execution %s",
                    fired.tick.deployment_id,
                    utc_text(fired.tick.scheduled_for),
                    fired.execution_id,
                )
            else:
                logger.warning(
                    "scheduler: deployment %s tick %s could not start: %s",
                    fired.tick.deployment_id,
                    utc_text(fired.tick.scheduled_for),
                    fired.error,
                )
        if result.skipped:
            by_deployment: dict[DeploymentId, int] = {}
            for tick in result.skipped:
                by_deployment[tick.deployment_id] = by_deployment.get(tick.deployment_id, 0) + 1
            for deployment_id, count in by_deployment.items():
                logger.warning(
                    "scheduler: skipped %d missed tick(s) of deployment %s older than the "
                    "catch-up window of %s",
                    count,
                    deployment_id,
                    self._fire.catch_up,
                )
        for deployment_id, why in result.invalid:
            if (deployment_id, why) not in self._reported:  # once, not every second
                self._reported.add((deployment_id, why))
                logger.error("scheduler: deployment %s has a bad schedule: %s", deployment_id, why)

    async def _loop(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        while True:
            try:
                await self.run_once()
            except Exception:  # a bug in one round must not end the schedules
                logger.exception("scheduler: a round failed")
            if me.cancelling():  # stop() was called, but the round swallowed the cancel
                # (Python 3.11's asyncio.wait_for can, under redis-py and psycopg)
                raise asyncio.CancelledError
            # Wake just after the next whole second (ticks are whole seconds), or sooner.
            now = self._clock.now()
            to_next_second = 1.0 - now.microsecond / 1_000_000 + 0.005
            await self._clock.sleep(max(0.01, min(self._interval, to_next_second)))
