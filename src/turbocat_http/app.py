"""The Litestar app factory: the only place an HTTP app is built (nothing happens at import)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Final, TypeAlias
from urllib.parse import urlsplit

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State

from turbocat_adapters.bootstrap import ensure_bootstrap_admin
from turbocat_adapters.container import close_redis
from turbocat_adapters.metrics.scrape import forget_this_process
from turbocat_http.auth.access import check_access
from turbocat_http.context import REQUEST_ID_HEADER
from turbocat_http.dependencies import CONTAINER_STATE_KEY
from turbocat_http.envelope import LIST_PARAMS_DEPENDENCY, provide_list_params
from turbocat_http.errors import handle_exception
from turbocat_http.health import health_router
from turbocat_http.health.routes import STARTED_AT_STATE_KEY
from turbocat_http.metrics import metrics
from turbocat_http.middleware import EdgeConfig, EdgeMiddleware, RequestObserver
from turbocat_http.openapi import (
    EnvelopeSchemaPlugin,
    WireSchemaPlugin,
    document_routes,
    openapi_config,
)
from turbocat_http.requests import TurbocatRequest
from turbocat_http.routes import API_PREFIX, API_ROUTERS

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler

    from turbocat_adapters.container import Container
    from turbocat_adapters.settings import Settings
    from turbocat_core.ports.api_usage import ApiUsage

logger = logging.getLogger("turbocat.http")
Lifespan: TypeAlias = Callable[[Litestar], AbstractAsyncContextManager[None]]
USAGE_FLUSH_SECONDS: Final = 1.0

CORS_HEADERS: Final = ["Authorization", "Content-Type", "X-API-Key", REQUEST_ID_HEADER]
EXPOSED_HEADERS: Final = [
    REQUEST_ID_HEADER,
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]


def create_app(
    container: Container,
    *,
    routers: Sequence[ControllerRouterHandler] = (),
    lifespan: Sequence[Lifespan] = (),
) -> Litestar:
    """The HTTP app over ``container``.

    Mounts ``routes.API_ROUTERS`` and ``routers`` under ``/api/v1`` and the health probes at
    ``/health``. On startup it opens the container's store (closing it, and the container's
    Redis client if it has one, on shutdown), then enters each ``lifespan`` context (e.g. an
    in-process worker), in order. Handlers get use cases through ``dependencies.provide``
    (the container is ``app.state.container``).
    """
    settings: Settings = container.settings()
    if settings.jwt_secret is None:
        raise RuntimeError(
            "the settings have no JWT secret: build them with "
            "turbocat_adapters.secrets_file.with_secrets() (or set TURBOCAT_JWT_SECRET)"
        )
    _set_log_level(settings.log_level)
    # One guard enforces every route's access rule (turbocat_http.auth.access).
    api = Router(API_PREFIX, route_handlers=[*API_ROUTERS, *routers], guards=[check_access])
    handlers: list[ControllerRouterHandler] = [health_router, api]
    if settings.metrics:
        handlers.append(metrics)
    app = Litestar(
        route_handlers=handlers,
        exception_handlers={Exception: handle_exception},
        request_class=TurbocatRequest,
        dependencies={LIST_PARAMS_DEPENDENCY: provide_list_params()},
        lifespan=[_store_lifespan(container), _usage_lifespan(container), *lifespan],
        state=State({CONTAINER_STATE_KEY: container, STARTED_AT_STATE_KEY: time.monotonic()}),
        openapi_config=openapi_config(API_PREFIX),
        cors_config=cors_config(settings),
        request_max_body_size=settings.max_body_bytes,
        plugins=[WireSchemaPlugin(), EnvelopeSchemaPlugin()],
        logging_config=None,
    )
    document_routes(app)
    # Around Litestar's exception and CORS layers, so 404s, 405s and preflights get the
    # request id, the security headers and their log line too (see middleware.py).
    observers: list[RequestObserver] = [ApiRequests(container.api_usage())]
    if (http_metrics := container.http_metrics()) is not None:
        observers.append(http_metrics)
    app.asgi_handler = EdgeMiddleware(app.asgi_handler, edge_config(settings, observers))
    tracing = container.tracing()
    if tracing is not None:  # outside the edge: its log line is inside the request's span
        from turbocat_http.tracing import traced

        app.asgi_handler = traced(app.asgi_handler, tracing)
    return app


def _store_lifespan(container: Container) -> Lifespan:
    @asynccontextmanager
    async def store_open(app: Litestar) -> AsyncIterator[None]:
        store = container.store()
        await store.open()
        if container.settings().database_url == "memory://":
            # Nothing `turbocat serve` prepared in its own process is here: do it again.
            await ensure_bootstrap_admin(container)
        app.state[STARTED_AT_STATE_KEY] = time.monotonic()
        queue = container.queue()
        settings = container.settings()
        # In a fleet (Redis), the workers resume runs and fire schedules, not the servers.
        single = settings.single_process and settings.redis_url is None
        scheduler = container.scheduler() if single else None
        try:
            if single:
                resumed = await container.resume_interrupted()()
                if resumed:
                    logger.warning("resumed %d interrupted execution(s)", resumed)
                assert scheduler is not None
                scheduler.start()
            yield
        finally:
            if scheduler is not None:
                await scheduler.stop()
            await queue.close()  # runs in flight stay RUNNING; the next start resumes them
            try:
                await store.close()
            finally:
                await close_redis(container)
                forget_this_process()  # its in-flight gauges leave the sums

    return store_open


class ApiRequests:
    """Feeds ``ports.ApiUsage`` (system health) with the requests to the API's routes."""

    __slots__ = ("_usage",)

    def __init__(self, usage: ApiUsage) -> None:
        self._usage = usage

    def begun(self) -> None:
        pass

    def ended(self, method: str, route: str, status: int, seconds: float) -> None:
        if route.startswith(API_PREFIX):
            self._usage.record(status, seconds)


def _usage_lifespan(container: Container) -> Lifespan:
    """Where the API's counts go to Redis (``RedisApiUsage.flush``): every second, and once
    more on the way out."""

    @asynccontextmanager
    async def flushing(app: Litestar) -> AsyncIterator[None]:
        flush = getattr(container.api_usage(), "flush", None)
        if flush is None:
            yield
            return

        async def every_second() -> None:
            while True:
                await asyncio.sleep(USAGE_FLUSH_SECONDS)
                await flush()

        task = asyncio.create_task(every_second(), name="turbocat-api-usage")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await flush()

    return flushing


def cors_config(settings: Settings) -> CORSConfig | None:
    """CORS for the configured origins only; none configured: no CORS headers at all."""
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=CORS_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=600,
    )


def edge_config(settings: Settings, observers: Sequence[RequestObserver] = ()) -> EdgeConfig:
    return EdgeConfig(
        production=settings.production,
        trust_proxy_headers=settings.trust_proxy_headers,
        max_body_bytes=settings.max_body_bytes,
        public_host=urlsplit(settings.public_url).hostname or "localhost",
        observers=tuple(observers),
    )


def _set_log_level(level: str) -> None:
    """``TURBOCAT_LOG_LEVEL`` for the request log; where it goes is the process's business."""
    value = logging.getLevelName(level.upper())
    if isinstance(value, int):
        logging.getLogger("turbocat.http").setLevel(value)
