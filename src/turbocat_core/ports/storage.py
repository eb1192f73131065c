"""The full unit of work: the run store's repositories and those of API keys, templates,
deployments and analytics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from turbocat_core.domain.analytics import (
    Interval,
    ResourceCounts,
    RunCounts,
    SeriesPoint,
    StepStats,
    Window,
)
from turbocat_core.domain.api_key import ApiKey
from turbocat_core.domain.common import (
    AgentId,
    ApiKeyId,
    DeploymentId,
    TemplateId,
    UserId,
    WorkflowId,
)
from turbocat_core.domain.deployment import Deployment
from turbocat_core.domain.template import Template
from turbocat_core.ports.run_store import Repository, RunUnitOfWork


class TemplateRepository(Repository[Template, TemplateId], Protocol):
    async def increment_usage(self, template_id: TemplateId) -> None:
        """``usage_count += 1`` atomically."""
        ...

    async def categories(self) -> list[tuple[str, int]]:
        """Each category of public templates with how many it holds, by name."""
        ...


class DeploymentRepository(Repository[Deployment, DeploymentId], Protocol): ...


class ApiKeyRepository(Repository[ApiKey, ApiKeyId], Protocol):
    async def get_by_hash(self, key_hash: str) -> ApiKey | None: ...

    async def record_use(self, key_id: ApiKeyId, at: datetime) -> None:
        """``usage_count += 1`` and ``last_used_at = at``, atomically (no-op when missing)."""
        ...


class AnalyticsRepository(Protocol):
    """Figures the store computes itself (SQL aggregates, window and percentile functions;
    the in-memory store over its rows), never by handing every row to the caller.

    Runs are placed in time by their execution's ``created_at`` and counted when their
    execution is in the ``Window`` (owner, ``[start, end)``). Buckets are UTC (hours, days,
    ISO weeks from Monday, months). Durations are milliseconds; percentiles interpolate
    linearly (``percentile_cont``). Executions stay counted after their workflow is deleted.
    """

    async def resource_counts(self, owner_id: UserId | None) -> ResourceCounts:
        """Live agents and workflows (``owner_id``'s, or everyone's) by status."""
        ...

    async def execution_counts(
        self, window: Window, workflow_id: WorkflowId | None = None
    ) -> RunCounts:
        """Executions (of one workflow, or all) by status; durations of the finished ones."""
        ...

    async def execution_series(
        self, window: Window, interval: Interval, workflow_id: WorkflowId | None = None
    ) -> list[SeriesPoint]:
        """Executions per bucket, oldest first, only buckets that hold some; ``failed`` counts
        FAILED, CANCELLED and TIMEOUT; the mean is of the finished ones' durations."""
        ...

    async def agent_call_counts(self, agent_id: AgentId, window: Window) -> RunCounts:
        """Calls of an agent: the step runs of AGENT steps whose pinned definition names
        ``agent_id``, neither SKIPPED nor reused by a retry, by step status; ``executions``
        counts the executions they belong to; durations of the COMPLETED and FAILED ones."""
        ...

    async def agent_call_series(
        self, agent_id: AgentId, window: Window, interval: Interval
    ) -> list[SeriesPoint]:
        """Those calls per bucket of their execution (``failed``: FAILED)."""
        ...

    async def step_counts(self, workflow_id: WorkflowId, window: Window) -> list[StepStats]:
        """Per step key of the workflow's executions (by key, in code-point order)."""
        ...


class UnitOfWork(RunUnitOfWork, Protocol):
    """One transaction over every repository: the run store's (whose docstring states the
    transaction's contract) and the rest of the application's."""

    templates: TemplateRepository
    deployments: DeploymentRepository
    api_keys: ApiKeyRepository
    analytics: AnalyticsRepository


UnitOfWorkFactory = Callable[[], UnitOfWork]
