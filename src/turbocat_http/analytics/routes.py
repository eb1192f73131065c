"""``GET /analytics/overview``, ``/analytics/agents/{id}/metrics``,
``/analytics/workflows/{id}/metrics`` and ``/analytics/system-health`` (ADMIN)."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

import dataclasses
import logging
import time
from typing import Annotated, Any
from uuid import UUID

from litestar import Router, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, SkipValidation

from turbocat_adapters.store_contract import Store
from turbocat_core import __version__
from turbocat_core.domain.access import Actor, require_role
from turbocat_core.domain.analytics import AgentMetrics, Interval, Overview, WorkflowMetrics
from turbocat_core.domain.api_traffic import WINDOWS_MINUTES, no_figures
from turbocat_core.domain.common import AgentId, UserId, WorkflowId
from turbocat_core.domain.user import UserRole
from turbocat_core.errors import ExternalServiceError
from turbocat_core.usecases.analytics import (
    GetAgentMetrics,
    GetApiTraffic,
    GetOverview,
    GetWorkflowMetrics,
)
from turbocat_http.analytics.params import From, To, time_range
from turbocat_http.analytics.schemas import ApiTraffic, SystemHealth
from turbocat_http.auth.access import scoped
from turbocat_http.auth.security import ACTOR
from turbocat_http.dependencies import provide
from turbocat_http.envelope import ok
from turbocat_http.health.checks import check_all, ready
from turbocat_http.health.routes import STARTED_AT_STATE_KEY
from turbocat_http.openapi import error_responses
from turbocat_http.schemas import Envelope

SCOPE = "analytics"
logger = logging.getLogger("turbocat.http")

IntervalParam = Annotated[
    Interval,
    QueryParameter(
        description="Time-series buckets in UTC: hour, day (default), week (ISO, "
        "from Monday) or month."
    ),
]


@get("/overview", **scoped(SCOPE, "read"))
async def overview(
    actor: NamedDependency[Actor],
    get_overview: NamedDependency[GetOverview],
    start: From = None,
    end: To = None,
    user_id: Annotated[
        UUID | None,
        QueryParameter(name="userId", description="ADMIN: one user's figures (default: all)."),
    ] = None,
) -> Envelope[Overview]:
    """The caller's agents and workflows by status (as they are now) and executions created
    in the range: by status, success and failure rates of the finished ones, durations.
    ADMINs see everyone's (or ``userId``'s)."""
    since, until = time_range(start, end)
    owner = UserId(user_id) if user_id is not None else None
    return ok(await get_overview(actor, start=since, end=until, user_id=owner))


@get("/agents/{agent_id:uuid}/metrics", **scoped(SCOPE, "read"))
async def agent_metrics(
    agent_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    get_agent_metrics: NamedDependency[GetAgentMetrics],
    start: From = None,
    end: To = None,
    interval: IntervalParam = Interval.DAY,
) -> Envelope[AgentMetrics]:
    """Calls of the agent by AGENT steps of executions created in the range: counts, rates,
    p50/p95/p99 durations and a time series; ``lifetime`` holds the engine's counters."""
    since, until = time_range(start, end)
    return ok(
        await get_agent_metrics(actor, AgentId(agent_id), start=since, end=until, interval=interval)
    )


@get("/workflows/{workflow_id:uuid}/metrics", **scoped(SCOPE, "read"))
async def workflow_metrics(
    workflow_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    get_workflow_metrics: NamedDependency[GetWorkflowMetrics],
    start: From = None,
    end: To = None,
    interval: IntervalParam = Interval.DAY,
) -> Envelope[WorkflowMetrics]:
    """Executions of the workflow created in the range: counts, rates, p50/p95/p99
    durations, a time series and per-step figures."""
    since, until = time_range(start, end)
    return ok(
        await get_workflow_metrics(
            actor, WorkflowId(workflow_id), start=since, end=until, interval=interval
        )
    )


@get("/system-health", **scoped(SCOPE, "read"), responses=error_responses(403))
async def system_health(
    actor: NamedDependency[Actor],
    store: NamedDependency[SkipValidation[Store]],
    redis: NamedDependency[SkipValidation[Any]],
    queue: NamedDependency[SkipValidation[Any]],
    get_api_traffic: NamedDependency[GetApiTraffic],
    state: State,
) -> Envelope[SystemHealth]:
    """The database (ping latency, pending migrations), Redis and the job queue, with the
    version and uptime, and the API's requests per minute, p50/p95/p99 response times and
    error rates over the last 5 and 60 minutes, for the whole deployment (ADMIN only)."""
    require_role(actor, UserRole.ADMIN)
    checks = await check_all(store, redis, queue)
    api = await api_traffic(get_api_traffic, actor)
    uptime = time.monotonic() - float(state.get(STARTED_AT_STATE_KEY, time.monotonic()))
    return ok(
        SystemHealth(
            status="ok" if ready(checks) else "degraded",
            version=__version__,
            uptime_seconds=round(uptime, 3),
            database=checks.database,
            redis=checks.redis,
            queue=checks.queue,
            api=api,
        )
    )


async def api_traffic(get_api_traffic: GetApiTraffic, actor: Actor) -> list[ApiTraffic]:
    """The figures, or, when Redis (where they are kept) does not answer, no figure and a
    note saying so: the rest of the report stands."""
    try:
        windows = await get_api_traffic(actor)
    except ExternalServiceError as error:
        logger.warning("system health: API traffic unavailable (%s)", error.message)
        note = "Redis, where the figures are kept, did not answer"
        windows = [no_figures(minutes, note) for minutes in WINDOWS_MINUTES]
    return [ApiTraffic(**dataclasses.asdict(window)) for window in windows]


router = Router(
    "/analytics",
    route_handlers=[overview, agent_metrics, workflow_metrics, system_health],
    dependencies={
        "actor": ACTOR,
        **provide(
            "get_overview",
            "get_agent_metrics",
            "get_workflow_metrics",
            "get_api_traffic",
            "store",
            "redis",
            "queue",
        ),
    },
    tags=["analytics"],
)
