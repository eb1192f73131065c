"""`turbocat worker`: an RQ worker on the fleet's queue with this process's runtime."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import StopRequested
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

from turbocat_adapters.rq.queue import rq_queue
from turbocat_adapters.rq.runtime import WorkerRuntime

if TYPE_CHECKING:
    from turbocat_adapters.container import Container

logger = logging.getLogger("turbocat.worker")

RECONNECT_SECONDS = 1.0


def run_worker(container: Container, *, concurrency: int, burst: bool = False) -> None:
    """Run until SIGTERM/SIGINT (or, with ``burst``, until the queue is empty).

    A non-forking RQ worker: each job only hands its execution to the runtime (a fork and a
    fresh database pool per job would cost more than most steps); the runtime also drives
    RQ's scheduler, which moves delayed jobs (parked WAITs, runs held back by a concurrency
    limit) onto the queue. Stopped at any moment, even while starting, it closes what it
    opened and hands its runs back; the signal handlers it found are put back before that,
    so a second signal while it stops acts as it would have before the worker started.
    """
    settings = container.settings()
    if settings.redis_url is None:
        raise RuntimeError("TURBOCAT_REDIS_URL is not set: a worker needs the fleet's Redis")
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    runtime = WorkerRuntime(container, concurrency=concurrency)
    try:
        runtime.start()
        connection = container.rq_connection()
        assert connection is not None
        name = f"{socket.gethostname()}-{runtime.holder.rsplit(':', 1)[-1]}"
        queue = rq_queue(connection, settings.redis_prefix)
        # Always shown (whatever the log level): scripts and tests wait for this line.
        _say(f"worker {name} ready: {concurrency} place(s) on {queue.name}")
        _work(runtime, queue, name, burst=burst)
    finally:
        # RQ leaves its handlers installed (a second signal would raise in the middle of
        # the hand-back below): the process's own come back.
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
        runtime.stop()
    _say(f"worker {name} stopped")


def _work(runtime: WorkerRuntime, queue: Queue, name: str, *, burst: bool) -> None:
    while True:
        try:
            worker = _Worker(
                [queue],
                connection=queue.connection,
                serializer=JSONSerializer,
                name=name,
                runtime=runtime,
            )
            try:
                # RQ's scheduler runs in the runtime (see WorkerRuntime._due_jobs), not forked.
                worker.work(with_scheduler=False, burst=burst, logging_level="WARNING")
            except RedisError as error:
                logger.warning("worker: Redis failed (%s)", error)
            if burst or worker._shutdown_requested_date is not None:
                return
            # RQ's loop gives up when Redis goes away mid-command: the runs in flight go on
            # in the runtime (their leases are taken again once Redis is back); take jobs
            # again as soon as Redis answers.
            logger.warning("worker: lost Redis; taking jobs again in %.0f s", RECONNECT_SECONDS)
            time.sleep(RECONNECT_SECONDS)
        except StopRequested:  # a signal between two rounds (RQ's handler is still there)
            return


class _Worker(SimpleWorker):
    """RQ's worker, which on the first stop signal also tells the runtime to take no more
    runs: a job waiting for a free place goes back to the queue at once instead of holding
    the stop until a run ends."""

    def __init__(self, *args: Any, runtime: WorkerRuntime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._runtime = runtime

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self._runtime.refuse_runs()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
