"""``GET /health`` (report), ``/health/live`` (the process serves), ``/health/ready`` (the
database answers and is migrated, and Redis answers where configured: 200, else 503 naming
the failing check)."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

import time
from typing import Any

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader, State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import SkipValidation

from turbocat_adapters.store_contract import Store
from turbocat_core import __version__
from turbocat_http.dependencies import provide
from turbocat_http.health.checks import check_all, ready
from turbocat_http.health.schemas import HealthReport, LiveReport, ReadyReport

STARTED_AT_STATE_KEY = "started_at"


@get("/", summary="Health report")
async def health(
    store: NamedDependency[SkipValidation[Store]],
    redis: NamedDependency[SkipValidation[Any]],
    queue: NamedDependency[SkipValidation[Any]],
    state: State,
) -> HealthReport:
    """Version, uptime and each dependency's check (database, Redis, the job queue with its
    depth, failed jobs and workers alive); 200 even when one is down (see ready)."""
    checks = await check_all(store, redis, queue)
    uptime = time.monotonic() - float(state.get(STARTED_AT_STATE_KEY, time.monotonic()))
    return HealthReport(
        status="ok" if ready(checks) else "degraded",
        version=__version__,
        uptime_seconds=round(uptime, 3),
        checks=checks,
    )


@get("/live", summary="Liveness")
async def live() -> LiveReport:
    """200 while the process serves requests."""
    return LiveReport(status="ok")


@get(
    "/ready",
    summary="Readiness",
    responses={503: ResponseSpec(ReadyReport, description="A dependency is down or unmigrated")},
)
async def readiness(
    store: NamedDependency[SkipValidation[Store]],
    redis: NamedDependency[SkipValidation[Any]],
    queue: NamedDependency[SkipValidation[Any]],
) -> Response[ReadyReport]:
    """200 when the database answers with no migration pending and Redis (where configured)
    answers, else 503; the checks include the queue's depth and workers alive."""
    checks = await check_all(store, redis, queue)
    ok = ready(checks)
    return Response(
        ReadyReport(status="ready" if ok else "unavailable", checks=checks),
        status_code=200 if ok else 503,
    )


health_router = Router(
    "/health",
    route_handlers=[health, live, readiness],
    dependencies=provide("store", "redis", "queue"),
    cache_control=CacheControlHeader(no_store=True),
    tags=["health"],
)
