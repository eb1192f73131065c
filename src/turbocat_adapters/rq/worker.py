"""`turbocat worker`: an RQ worker on the fleet's queue with this process's runtime."""

from __future__ import annotations

import logging
import socket
import sys
import time
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
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
    limit) onto the queue.
    """
    settings = container.settings()
    if settings.redis_url is None:
        raise RuntimeError("TURBOCAT_REDIS_URL is not set: a worker needs the fleet's Redis")
    runtime = WorkerRuntime(container, concurrency=concurrency)
    runtime.start()
    connection = container.rq_connection()
    assert connection is not None
    name = f"{socket.gethostname()}-{runtime.holder.rsplit(':', 1)[-1]}"
    queue = rq_queue(connection, settings.redis_prefix)
    # Always shown (whatever the log level): scripts and tests wait for this line.
    print(
        f"worker {name} ready: {concurrency} place(s) on {queue.name}", file=sys.stderr, flush=True
    )
    try:
        while True:
            worker = SimpleWorker(
                [queue], connection=connection, serializer=JSONSerializer, name=name
            )
            try:
                # RQ's scheduler runs in the runtime (see WorkerRuntime._due_jobs), not forked.
                worker.work(with_scheduler=False, burst=burst, logging_level="WARNING")
            except RedisError as error:
                logger.warning("worker: Redis failed (%s)", error)
            if burst or worker._shutdown_requested_date is not None:
                break
            # RQ's loop gives up when Redis goes away mid-command: the runs in flight go on
            # in the runtime (their leases are taken again once Redis is back); take jobs
            # again as soon as Redis answers.
            logger.warning("worker: lost Redis; taking jobs again in %.0f s", RECONNECT_SECONDS)
            time.sleep(RECONNECT_SECONDS)
    finally:
        runtime.stop()
