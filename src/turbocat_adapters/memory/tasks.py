"""In-process cancellation signals and a job queue of asyncio tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from turbocat_core import ports
from turbocat_core.domain.common import ExecutionId

logger = logging.getLogger(__name__)

Runner = Callable[[ExecutionId], Awaitable[object]]


class InProcessCancellation:
    """Cancellation requests of the executions running in this process."""

    def __init__(self) -> None:
        self._events: dict[ExecutionId, asyncio.Event] = {}

    def _event(self, execution_id: ExecutionId) -> asyncio.Event:
        event = self._events.get(execution_id)
        if event is None:  # created lazily, so it belongs to the running loop
            event = self._events[execution_id] = asyncio.Event()
        return event

    async def request(self, execution_id: ExecutionId) -> None:
        self._event(execution_id).set()

    async def wait(self, execution_id: ExecutionId) -> None:
        await self._event(execution_id).wait()

    def forget(self, execution_id: ExecutionId) -> None:
        self._events.pop(execution_id, None)

    def requested(self, execution_id: ExecutionId) -> bool:
        """Whether cancellation of the execution was requested (and not forgotten)."""
        event = self._events.get(execution_id)
        return event is not None and event.is_set()


class InProcessQueue:
    """Runs ``runner(execution_id)`` as asyncio tasks of this process, now or at a time.

    Delayed jobs sleep on the injected clock. The queue keeps its tasks (asyncio keeps only
    weak references); a runner's exception is logged here, never lost.
    """

    def __init__(self, runner: Runner, clock: ports.Clock) -> None:
        self._runner = runner
        """What runs a job. A runner that needs this queue (``RunQueued``) is given as a
        callable looking it up when a job runs: the container's does."""
        self._clock = clock
        self._tasks: dict[asyncio.Task[None], ExecutionId] = {}

    @property
    def pending(self) -> int:
        """How many jobs are waiting or running."""
        return len(self._tasks)

    async def enqueue_execution(
        self, execution_id: ExecutionId, *, at: datetime | None = None
    ) -> None:
        delay = 0.0 if at is None else (at - self._clock.now()).total_seconds()
        task = asyncio.get_running_loop().create_task(
            self._run(execution_id, delay), name=f"turbocat-execution-{execution_id}"
        )
        self._tasks[task] = execution_id
        task.add_done_callback(self._done)

    async def _run(self, execution_id: ExecutionId, delay: float) -> None:
        if delay > 0:
            await self._clock.sleep(delay)
        await self._runner(execution_id)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.error("job %s failed", task.get_name(), exc_info=error)

    async def drain(self) -> None:
        """Wait until no job is left, including jobs enqueued by jobs meanwhile."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> list[ExecutionId]:
        """Cancel every job still waiting or running, and wait for them to stop; the
        executions whose jobs were stopped (some may have just finished)."""
        stopped = dict(self._tasks)
        for task in stopped:
            task.cancel()
        await asyncio.gather(*stopped, return_exceptions=True)
        return list(stopped.values())


def _conforms(
    queue: InProcessQueue, cancellation: InProcessCancellation
) -> tuple[ports.JobQueue, ports.CancellationSignal]:
    """Never called: mypy checks here that the classes match their ports."""
    return queue, cancellation
