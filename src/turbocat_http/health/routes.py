"""``GET /health`` (report), ``/health/live`` (the process serves), ``/health/ready`` (the
database answers and is migrated: 200, else 503 naming the failing check)."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

import time

from litestar import Response, Router, get
from litestar.datastructures import CacheControlHeader, State
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import SkipValidation

from turbocat_adapters.stores import Store
from turbocat_core import __version__
from turbocat_http.dependencies import provide
from turbocat_http.health.checks import check_database
from turbocat_http.health.schemas import Checks, HealthReport, LiveReport, ReadyReport

STARTED_AT_STATE_KEY = "started_at"


@get("/", summary="Health report")
async def health(store: NamedDependency[SkipValidation[Store]], state: State) -> HealthReport:
    """Version, uptime and each dependency's check; 200 even when one is down (see ready)."""
    database = await check_database(store)
    uptime = time.monotonic() - float(state.get(STARTED_AT_STATE_KEY, time.monotonic()))
    return HealthReport(
        status="ok" if database.ready else "degraded",
        version=__version__,
        uptime_seconds=round(uptime, 3),
        checks=Checks(database=database),
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
async def ready(store: NamedDependency[SkipValidation[Store]]) -> Response[ReadyReport]:
    """200 when the database answers and no migration is pending, else 503."""
    database = await check_database(store)
    ok = database.ready
    return Response(
        ReadyReport(status="ready" if ok else "unavailable", checks=Checks(database=database)),
        status_code=200 if ok else 503,
    )


health_router = Router(
    "/health",
    route_handlers=[health, live, ready],
    dependencies={"store": provide("store")},
    cache_control=CacheControlHeader(no_store=True),
    tags=["health"],
)
