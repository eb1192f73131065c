"""`turbocat worker`: an RQ worker on the fleet's queue with this process's runtime."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import StopRequested
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

from turbocat_adapters.metrics.scrape import serve_worker_metrics
from turbocat_adapters.rq.queue import rq_queue
from turbocat_adapters.rq.runtime import WorkerRuntime

if TYPE_CHECKING:
    from turbocat_adapters.container import Container

logger = logging.getLogger("turbocat.worker")

RECONNECT_SECONDS = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_worker(
    container: Container,
    *,
    concurrency: int,
    burst: bool = False,
    metrics: tuple[str, int] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or, with ``burst``, until the queue is empty).

    A non-forking RQ worker: each job only hands its execution to the runtime (a fork and a
    fresh database pool per job would cost more than most steps); the runtime also drives
    RQ's scheduler, which moves delayed jobs (parked WAITs, runs held back by a concurrency
    limit) onto the queue. A stop signal at any moment, even while it starts, stops it the
    same way: no more jobs taken, the runs in flight handed back, everything closed.
    With ``metrics`` (host, port), this worker's Prometheus metrics are served there.
    """
    settings = container.settings()
    if settings.redis_url is None:
        raise RuntimeError("TURBOCAT_REDIS_URL is not set: a worker needs the fleet's Redis")
    handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    runtime = WorkerRuntime(container, concurrency=concurrency)
    stop_metrics: Callable[[], None] | None = None
    try:
        for sig in STOP_SIGNALS:  # until RQ's loop listens (see _Worker)
            signal.signal(sig, _stop_soon(runtime))
        runtime.start()
        connection = container.rq_connection()
        assert connection is not None
        name = f"{socket.gethostname()}-{runtime.holder.rsplit(':', 1)[-1]}"
        queue = rq_queue(connection, settings.redis_prefix)
        if metrics is not None:
            host, port = metrics
            stop_metrics = serve_worker_metrics(
                port, host, container.metrics_access(), container.deployment_metrics()
            )
            _say(f"worker {name} metrics on http://{host}:{port}/metrics")
        # Always shown (whatever the log level): scripts and tests wait for this line.
        _say(f"worker {name} ready: {concurrency} place(s) on {queue.name}")
        _work(runtime, queue, name, burst=burst)
    finally:
        # RQ leaves its handlers installed: the process's own come back before the hand-back,
        # so a second signal while it goes on acts as it would without a worker.
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
        runtime.stop()
        if stop_metrics is not None:
            stop_metrics()
    _say(f"worker {name} stopped")


def _stop_soon(runtime: WorkerRuntime) -> Callable[[int, FrameType | None], None]:
    """A stop signal before RQ listens: noted, acted on at the next safe point (raising in
    the middle of a Redis call could leave a lock the runtime's thread needs); a second
    one interrupts at once."""

    def stop(signum: int, frame: FrameType | None) -> None:
        if runtime.refusing:
            raise KeyboardInterrupt
        runtime.refuse_runs()

    return stop


def _work(runtime: WorkerRuntime, queue: Queue, name: str, *, burst: bool) -> None:
    while not runtime.refusing:
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
            if burst or runtime.refusing:
                return
            # RQ's loop gives up when Redis goes away mid-command: the runs in flight go on
            # in the runtime (their leases are taken again once Redis is back); take jobs
            # again as soon as Redis answers.
            logger.warning("worker: lost Redis; taking jobs again in %.0f s", RECONNECT_SECONDS)
            time.sleep(RECONNECT_SECONDS)
        except StopRequested:  # a signal between two rounds (RQ's handler is still there)
            return


class _Worker(SimpleWorker):
    """RQ's worker, told of the stop signals that came before its loop listened, and which
    on a stop signal also tells the runtime to take no more runs: a job waiting for a free
    place goes back to the queue at once instead of holding the stop until a run ends."""

    def __init__(self, *args: Any, runtime: WorkerRuntime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._runtime = runtime

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()  # type: ignore[no-untyped-call]
        if self._runtime.refusing:  # signalled while it started: stop before taking a job
            self._stop_requested = True

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self._runtime.refuse_runs()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
