"""A worker process's runtime: an event loop in a thread that runs executions and the
fleet's periodic work (reaper, schedules, retention), fed by the RQ job in the main thread.

RQ's worker loop stays in the main thread (signals, heartbeats, its scheduler); each job
hands an execution id to :meth:`WorkerRuntime.accept`, which waits for one of the
``concurrency`` places and returns. The store's pool and the Redis clients are opened in
the runtime's own thread and loop, after any fork, and used only there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from redis.exceptions import RedisError

from turbocat_adapters.log_context import running
from turbocat_adapters.rq.queue import BEAT_SECONDS, rq_scheduler, workers_key
from turbocat_core.domain.common import ExecutionId
from turbocat_core.errors import ExternalServiceError

if TYPE_CHECKING:
    from turbocat_adapters.container import Container
    from turbocat_adapters.scheduler import Scheduler

logger = logging.getLogger("turbocat.worker")

REAP_EVERY: Final = 1.0
SCHEDULE_EVERY: Final = 0.25
"""How often due delayed jobs are moved onto the queue (RQ's own scheduler: every 1 s)."""
PRUNE_CHECK_EVERY: Final = 3600.0
_RUNTIME: WorkerRuntime | None = None


def current_runtime() -> WorkerRuntime:
    if _RUNTIME is None:
        raise RuntimeError("no worker runtime in this process: start it with `turbocat worker`")
    return _RUNTIME


class WorkerRuntime:
    """Start with :meth:`start` (blocks until the store is open), stop with :meth:`stop`."""

    def __init__(self, container: Container, *, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.container = container
        self.concurrency = concurrency
        self.holder = container.worker_id()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._loop = asyncio.new_event_loop()
        # A daemon: a runtime left running (its process stopped mid-start) never keeps the
        # process alive; stop() is the orderly way out.
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="turbocat-runtime", daemon=True
        )
        self._runs: dict[asyncio.Task[Any], ExecutionId] = {}
        self._periodic: list[asyncio.Task[None]] = []
        self._opening: asyncio.Task[Any] | None = None
        self._scheduler: Scheduler | None = None
        self._stopping = threading.Event()

    # --- from the main thread -----------------------------------------------------------

    def start(self) -> None:
        """Open the store and start the periodic work; interrupted (Ctrl-C), :meth:`stop`
        still closes whatever was opened."""
        global _RUNTIME
        self._thread.start()
        self._call(self._open()).result()
        _RUNTIME = self

    def accept(
        self,
        execution_id: ExecutionId,
        *,
        trace: Mapping[str, str] | None = None,
        queued_at: datetime | None = None,
    ) -> None:
        """Run the execution here once a place is free (called by the RQ job); with tracing
        on, in the trace context ``trace`` the job carried, after a ``queued`` span from
        ``queued_at`` to now."""
        while not self._stopping.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            if self._stopping.is_set():
                self._slots.release()
                break
            tracing = self.container.tracing()
            if tracing is None or not trace:
                self._call(self._run(execution_id))
                return
            # The run's task is created from a copy of this thread's context: it starts
            # with the job's trace context current.
            with tracing.continued(trace, queued_at=queued_at):
                self._call(self._run(execution_id))
            return
        # Stopping: give the job back to the fleet rather than drop it.
        self._call(self.container.queue().enqueue_execution(execution_id)).result()

    def refuse_runs(self) -> None:
        """Take no more runs: from now on :meth:`accept` gives its job back to the fleet
        (the worker is stopping). Safe from a signal handler."""
        self._stopping.set()

    @property
    def refusing(self) -> bool:
        """Whether the runtime takes no more runs (stopping, or told to)."""
        return self._stopping.is_set()

    def stop(self, timeout: float = 30.0) -> None:
        """Interrupt what runs (it stays RUNNING, its lease released, queued again for
        another worker), stop the periodic work, close everything (also after a
        :meth:`start` that was interrupted, or never called)."""
        global _RUNTIME
        self._stopping.set()
        if not self._thread.is_alive():
            return
        try:
            self._call(self._close()).result(timeout)
        except TimeoutError:
            logger.warning("worker: not stopped cleanly in %.0f s; leaving anyway", timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            _RUNTIME = None

    def _call(self, work: Awaitable[Any]) -> Any:
        async def wrapped() -> Any:
            return await work

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop)

    # --- in the runtime's loop ----------------------------------------------------------

    async def _open(self) -> None:
        self._opening = asyncio.current_task()
        container = self.container
        await container.store().open()
        reaper = container.reaper()
        scheduler = container.scheduler()
        scheduler.start()
        self._periodic = [
            asyncio.create_task(self._every(REAP_EVERY, reaper.run_once), name="reaper"),
            asyncio.create_task(self._every(PRUNE_CHECK_EVERY, self._prune), name="retention"),
            asyncio.create_task(self._every(BEAT_SECONDS, self._beat), name="beat"),
            asyncio.create_task(self._every(SCHEDULE_EVERY, self._due_jobs), name="due-jobs"),
        ]
        self._rq_scheduler = rq_scheduler(container)
        self._scheduler = scheduler

    async def _run(self, execution_id: ExecutionId) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._runs[task] = execution_id
        try:
            with running(execution_id):  # its log lines name it
                await self.container.run_queued()(execution_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("execution %s: the run failed in the worker", execution_id)
        finally:
            del self._runs[task]
            self._slots.release()

    async def _every(self, seconds: float, work: Callable[[], Awaitable[object]]) -> None:
        name = getattr(work, "__name__", "periodic work").strip("_")
        me = asyncio.current_task()
        assert me is not None
        while True:
            try:
                await work()
            except (ExternalServiceError, RedisError, OSError) as error:
                # Redis or the database is away: one line, not a traceback every second.
                logger.warning("worker: %s unavailable (%s); trying again", name, error)
            except Exception:
                logger.exception("worker: %s failed; trying again", name)
            if me.cancelling():
                # Python 3.11's asyncio.wait_for (redis-py connects with it) drops a cancel
                # that lands as the awaited call completes: stop all the same, or stop()
                # would wait out a whole round's sleep (an hour for the retention check).
                raise asyncio.CancelledError
            await asyncio.sleep(seconds)

    async def _due_jobs(self) -> None:
        """RQ's scheduler, run here rather than in the process RQ would fork for it (a fork
        of this multi-threaded process could inherit a lock another thread holds): one
        worker at a time moves the delayed jobs that are due onto the queue."""
        claims = self.container.claims()
        if await claims.claim("rq-scheduler", self.holder, SCHEDULE_EVERY * 20):
            await asyncio.to_thread(self._rq_scheduler.enqueue_scheduled_jobs)

    async def _beat(self) -> None:
        """Say this worker is alive (``/health/ready`` counts the beats)."""
        redis = self.container.redis()
        assert redis is not None  # a worker always has Redis
        key = workers_key(self.container.settings().redis_prefix)
        now = time.time()
        async with redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {self.holder: now})
            pipe.zremrangebyscore(key, 0, now - 60 * BEAT_SECONDS)  # long gone
            await pipe.execute()

    async def _prune(self) -> None:
        """Once a day per fleet (the day's claim), delete what retention allows."""
        container = self.container
        clock = container.clock()
        day = clock.now().date().isoformat()
        if not await container.claims().claim(
            f"retention:{day}", self.holder, timedelta(days=2).total_seconds()
        ):
            return
        prune = getattr(container, "prune_executions", None)
        if prune is None:
            return
        report = await prune()(days=container.settings().retention_days)
        logger.info("retention: %s", report)

    async def _close(self) -> None:
        if self._opening is not None and not self._opening.done():  # stopped while starting
            self._opening.cancel()
            await asyncio.gather(self._opening, return_exceptions=True)
        for task in self._periodic:
            task.cancel()
        await asyncio.gather(*self._periodic, return_exceptions=True)
        if self._scheduler is not None:
            await self._scheduler.stop()
        interrupted = list(self._runs.items())
        for task, _ in interrupted:
            task.cancel()
        await asyncio.gather(*(task for task, _ in interrupted), return_exceptions=True)
        queue = self.container.queue()
        for _, execution_id in interrupted:
            with contextlib.suppress(Exception):
                await queue.enqueue_execution(execution_id)
        if interrupted:
            logger.warning("worker stopping: %d run(s) handed back to the fleet", len(interrupted))
        from turbocat_adapters.container import close_redis

        with contextlib.suppress(Exception):
            redis = self.container.redis()
            assert redis is not None
            await redis.zrem(workers_key(self.container.settings().redis_prefix), self.holder)
        await queue.close()
        await close_redis(self.container)
        await self.container.store().close()
