"""`turbocat worker`: an RQ worker on the fleet's queue with this process's runtime."""

from __future__ import annotations

import logging
import socket
import sys
from typing import TYPE_CHECKING

from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

from turbocat_adapters.rq.queue import rq_queue
from turbocat_adapters.rq.runtime import WorkerRuntime

if TYPE_CHECKING:
    from turbocat_adapters.container import Container

logger = logging.getLogger("turbocat.worker")


def run_worker(container: Container, *, concurrency: int, burst: bool = False) -> None:
    """Run until SIGTERM/SIGINT (or, with ``burst``, until the queue is empty).

    A non-forking RQ worker: each job only hands its execution to the runtime (a fork and a
    fresh database pool per job would cost more than most steps), and RQ's scheduler moves
    delayed jobs (parked WAITs, runs held back by a concurrency limit) onto the queue.
    """
    settings = container.settings()
    if settings.redis_url is None:
        raise RuntimeError("TURBOCAT_REDIS_URL is not set: a worker needs the fleet's Redis")
    runtime = WorkerRuntime(container, concurrency=concurrency)
    runtime.start()
    connection = container.rq_connection()
    assert connection is not None
    worker = SimpleWorker(
        [rq_queue(connection, settings.redis_prefix)],
        connection=connection,
        serializer=JSONSerializer,
        name=f"{socket.gethostname()}-{runtime.holder.rsplit(':', 1)[-1]}",
    )
    # Always shown (whatever the log level): scripts and tests wait for this line.
    print(
        f"worker {worker.name} ready: {concurrency} place(s) on {worker.queues[0].name}",
        file=sys.stderr,
        flush=True,
    )
    try:
        worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")
    finally:
        runtime.stop()
