"""A scrape: this process's metrics (or every server process's, in multiprocess mode) and the
figures read when Prometheus asks (the queue's registries, the connection pool).

Nothing is polled: the queue and pool gauges are computed by :class:`DeploymentCollector`
during the scrape itself, from RQ's registries and psycopg_pool's statistics.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Final, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    make_wsgi_app,
    multiprocess,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from turbocat_adapters.metrics.access import MetricsAccess
from turbocat_core.errors import PermissionDenied, TurbocatError

logger = logging.getLogger("turbocat.metrics")

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]: ...


def prepare_multiprocess_dir(path: Path) -> None:
    """Remove the value files in ``path`` (what a previous server left would be added in)
    and point the processes this one starts at it."""
    path.mkdir(parents=True, mode=0o700, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def forget_this_process() -> None:
    """A server process stops: its live gauges (requests in flight, runs running) no longer
    count in multiprocess mode; its counters and histograms stay in the sums."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class DeploymentCollector:
    """The queue's and the store's figures, read at scrape time (``queue`` and ``store`` are
    the container's; either may report nothing: an in-process queue has no failed jobs, a
    SQLite store no pool)."""

    def __init__(self, queue: Any, store: Any) -> None:
        self._queue = queue
        self._store = store

    def collect(self) -> Iterator[Metric]:
        yield from self._queue_figures()
        yield from self._pool_figures()

    def _queue_figures(self) -> Iterator[Metric]:
        figures = getattr(self._queue, "figures", None)
        if figures is None:  # the in-process queue: jobs waiting or running in this process
            pending = getattr(self._queue, "pending", None)
            if isinstance(pending, int):
                yield _gauge("turbocat_queue_depth", "Jobs waiting to start.", pending)
            return
        try:
            health = figures()
        except TurbocatError:
            logger.warning("metrics: the queue did not answer")
            yield _gauge("turbocat_queue_up", "1 when the queue's Redis answered the scrape.", 0)
            return
        yield _gauge("turbocat_queue_up", "1 when the queue's Redis answered the scrape.", 1)
        yield _gauge("turbocat_queue_depth", "Jobs waiting to start.", health.depth)
        yield _gauge(
            "turbocat_queue_scheduled_jobs",
            "Jobs waiting for a time (parked WAITs, runs held back by concurrencyLimit).",
            health.scheduled,
        )
        yield _gauge("turbocat_queue_started_jobs", "Jobs a worker is running.", health.started)
        yield _gauge("turbocat_queue_failed_jobs", "Jobs in RQ's failed registry.", health.failed)
        yield _gauge("turbocat_workers_alive", "Workers whose beat is recent.", health.workers)

    def _pool_figures(self) -> Iterator[Metric]:
        stats_of = getattr(self._store, "pool_stats", None)
        stats = stats_of() if stats_of is not None else None
        if stats is None:
            return
        size = stats.get("pool_size", 0)
        yield _gauge("turbocat_db_pool_size", "Connections the pool holds.", size)
        yield _gauge(
            "turbocat_db_pool_in_use",
            "Connections lent out now.",
            size - stats.get("pool_available", 0),
        )
        yield _gauge(
            "turbocat_db_pool_waiting",
            "Requests waiting for a connection.",
            stats.get("requests_waiting", 0),
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class _Together:
    """Several collectors as one, for ``generate_latest``."""

    def __init__(self, parts: Iterable[Collector]) -> None:
        self._parts = list(parts)

    def collect(self) -> Iterator[Metric]:
        for part in self._parts:
            yield from part.collect()


def process_metrics() -> Collector:
    """This process's registry, or every server process's values added up."""
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def render(*extra: Collector) -> tuple[bytes, str]:
    """The exposition (Prometheus text format) and its content type. Blocking: the queue's
    figures come from Redis; run it in a thread from async code."""
    return generate_latest(_Together([process_metrics(), *extra])), CONTENT_TYPE_LATEST


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_worker_metrics(
    port: int, host: str, access: MetricsAccess, *extra: Collector
) -> Callable[[], None]:
    """``turbocat worker --metrics-port``: this worker's metrics (and the queue's) at
    ``http://host:port/metrics``, under the same restriction as the servers' ``/metrics``,
    answered by a thread of its own. Returns what stops it."""
    registry = CollectorRegistry()
    registry.register(_Together([process_metrics(), *extra]))
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            access.check(environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR"))
        except TurbocatError as refused:
            forbidden = isinstance(refused, PermissionDenied)
            code = "FORBIDDEN" if forbidden else "UNAUTHORIZED"
            body = json.dumps(  # the API's error envelope
                {"success": False, "error": {"code": code, "message": refused.message}}
            ).encode()
            start_response(
                "403 Forbidden" if forbidden else "401 Unauthorized",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return metrics(environ, start_response)  # type: ignore[no-any-return]

    server = make_server(host, port, app, _Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
