"""Analytics (overview, per-agent and per-workflow metrics) and reading the audit log.

The figures come from ``uow.analytics``, which computes them in the store. Whose
executions count:

- overview: the caller's (an ADMIN: everyone's, or one user's with ``user_id``);
- an agent's or a workflow's metrics: every user's when the caller owns it or is an ADMIN
  (``scope == "all"``); only the caller's own executions when it is someone else's public
  agent or workflow (``scope == "own"``); another user's private one is ``NotFound``.

Per-agent metrics count the agent's *calls by AGENT steps*: the step runs of executions
whose pinned steps give that step the agent (neither SKIPPED nor reused by a retry). LOOP
iterations and PARALLEL branches are one step run for many calls, so they are not counted
there; the agent's lifetime counters (``lifetime``, kept by the engine) do count them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from turbocat_core.domain.access import Actor, require_role, require_visible
from turbocat_core.domain.agent import AgentStatus
from turbocat_core.domain.analytics import (
    CALL_FINISHED,
    CALL_STATUSES,
    EXECUTION_FINISHED,
    EXECUTION_STATUSES,
    MAX_BUCKETS,
    AgentMetrics,
    Interval,
    Lifetime,
    Overview,
    Period,
    SeriesPoint,
    StatusCounts,
    Summary,
    Window,
    WorkflowMetrics,
    bucket_start,
    next_bucket,
)
from turbocat_core.domain.api_traffic import WINDOWS_MINUTES, ApiTraffic, traffic
from turbocat_core.domain.audit import AuditLog
from turbocat_core.domain.common import AgentId, ListQuery, Page, UserId, WorkflowId
from turbocat_core.domain.user import UserRole
from turbocat_core.domain.workflow import WorkflowStatus
from turbocat_core.errors import NotFound, PermissionDenied, ValidationFailed
from turbocat_core.ports.api_usage import ApiUsage
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.storage import UnitOfWorkFactory

ALL = "all"
OWN = "own"


def fill_series(
    points: list[SeriesPoint], period: Period, interval: Interval, now: datetime
) -> list[SeriesPoint]:
    """Every bucket of the period, oldest first, those without runs as zeros.

    The series runs from the bucket of ``period.start`` (else of the first run) to the
    bucket of the last instant before ``period.end`` (else of ``now``, or of the last run if
    later). Nothing in it and no start: no buckets. ``ValidationFailed`` naming ``interval``
    past ``MAX_BUCKETS``.
    """
    held = {point.bucket: point for point in points}
    if period.start is not None:
        first = bucket_start(period.start, interval)
    elif points:
        first = points[0].bucket
    else:
        return []
    if period.end is not None:
        last = bucket_start(period.end - _TICK, interval)
    else:
        last = max(bucket_start(now, interval), points[-1].bucket if points else first)
    series: list[SeriesPoint] = []
    bucket = first
    while bucket <= last:
        if len(series) >= MAX_BUCKETS:
            raise ValidationFailed.field(
                "interval",
                f"the range holds more than {MAX_BUCKETS} {interval.value}s: choose a larger "
                "interval or a shorter range",
            )
        series.append(
            held.get(bucket) or SeriesPoint(bucket=bucket, total=0, completed=0, failed=0)
        )
        bucket = next_bucket(bucket, interval)
    return series


_TICK = datetime.resolution


@dataclass(frozen=True, slots=True, kw_only=True)
class GetOverview:
    """Counts of agents and workflows, and executions with rates and durations."""

    uow: UnitOfWorkFactory

    async def __call__(
        self,
        actor: Actor,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        user_id: UserId | None = None,
    ) -> Overview:
        """``user_id``: one user's figures (ADMIN; a USER only their own, else
        ``PermissionDenied``); ``ValidationFailed`` for a bad range."""
        period = Period.of(start, end)
        if not actor.is_admin:
            if user_id is not None and user_id != actor.user_id:
                raise PermissionDenied("only ADMINs may see another user's figures")
            user_id = actor.user_id
        window = Window(owner_id=user_id, start=period.start, end=period.end)
        async with self.uow() as uow:
            resources = await uow.analytics.resource_counts(user_id)
            executions = await uow.analytics.execution_counts(window)
        return Overview(
            period=period,
            user_id=user_id,
            agents=StatusCounts.of(resources.agents, [s.value for s in AgentStatus]),
            workflows=StatusCounts.of(resources.workflows, [s.value for s in WorkflowStatus]),
            executions=Summary.of(executions, EXECUTION_STATUSES, EXECUTION_FINISHED),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GetAgentMetrics:
    """Calls of one agent by AGENT steps: counts, rates, percentiles and a time series."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def __call__(
        self,
        actor: Actor,
        agent_id: AgentId,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        interval: Interval = Interval.DAY,
    ) -> AgentMetrics:
        """``NotFound`` for a missing, deleted or invisible agent; ``ValidationFailed`` for a
        bad range or too many buckets."""
        period = Period.of(start, end)
        async with self.uow() as uow:
            agent = await uow.agents.get(agent_id)
            if agent is None:
                raise NotFound("agent", agent_id)
            require_visible(actor, "agent", agent.id, agent.user_id, is_public=agent.is_public)
            scope = ALL if actor.is_admin or agent.user_id == actor.user_id else OWN
            window = Window(
                owner_id=None if scope == ALL else actor.user_id,
                start=period.start,
                end=period.end,
            )
            counts = await uow.analytics.agent_call_counts(agent.id, window)
            points = await uow.analytics.agent_call_series(agent.id, window, interval)
        return AgentMetrics(
            agent_id=agent.id,
            period=period,
            interval=interval,
            scope=scope,
            calls=Summary.of(counts, CALL_STATUSES, CALL_FINISHED),
            series=fill_series(points, period, interval, self.clock.now()),
            lifetime=Lifetime(
                total_executions=agent.total_executions,
                successful_executions=agent.successful_executions,
                failed_executions=agent.failed_executions,
                avg_execution_time_ms=agent.avg_execution_time_ms,
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GetWorkflowMetrics:
    """Executions of one workflow: counts, rates, percentiles, a time series, per-step figures."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def __call__(
        self,
        actor: Actor,
        workflow_id: WorkflowId,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        interval: Interval = Interval.DAY,
    ) -> WorkflowMetrics:
        """``NotFound`` for a missing, deleted or invisible workflow; ``ValidationFailed`` for
        a bad range or too many buckets."""
        period = Period.of(start, end)
        async with self.uow() as uow:
            workflow = await uow.workflows.get(workflow_id)
            if workflow is None:
                raise NotFound("workflow", workflow_id)
            require_visible(
                actor, "workflow", workflow.id, workflow.user_id, is_public=workflow.is_public
            )
            scope = ALL if actor.is_admin or workflow.user_id == actor.user_id else OWN
            window = Window(
                owner_id=None if scope == ALL else actor.user_id,
                start=period.start,
                end=period.end,
            )
            counts = await uow.analytics.execution_counts(window, workflow.id)
            points = await uow.analytics.execution_series(window, interval, workflow.id)
            steps = await uow.analytics.step_counts(workflow.id, window)
        return WorkflowMetrics(
            workflow_id=workflow.id,
            period=period,
            interval=interval,
            scope=scope,
            executions=Summary.of(counts, EXECUTION_STATUSES, EXECUTION_FINISHED),
            series=fill_series(points, period, interval, self.clock.now()),
            steps=steps,
            lifetime=Lifetime(
                total_executions=workflow.total_executions,
                successful_executions=workflow.successful_executions,
                failed_executions=workflow.failed_executions,
                avg_execution_time_ms=workflow.avg_execution_time_ms,
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ListAuditLogs:
    """The audit log (ADMIN only), newest first unless sorted otherwise."""

    uow: UnitOfWorkFactory

    async def __call__(
        self,
        actor: Actor,
        query: ListQuery,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Page[AuditLog]:
        """Entries matching ``query`` created in ``[start, end)``; ``PermissionDenied`` for
        anyone but an ADMIN, ``ValidationFailed`` for a bad range."""
        require_role(actor, UserRole.ADMIN)
        period = Period.of(start, end)
        everyone = replace(query, owner_id=None, include_public=False)
        async with self.uow() as uow:
            return await uow.audit_logs.list(
                everyone, created_from=period.start, created_to=period.end
            )


@dataclass(frozen=True, slots=True)
class GetApiTraffic:
    """Requests per minute, p50/p95/p99 response times and error rates of the whole
    deployment's API over the last 5 and 60 minutes (ADMIN)."""

    usage: ApiUsage

    async def __call__(self, actor: Actor) -> list[ApiTraffic]:
        require_role(actor, UserRole.ADMIN)
        return [
            traffic(await self.usage.last_minutes(minutes), minutes) for minutes in WINDOWS_MINUTES
        ]
