"""Workflows and their steps: step types, error policies, keys, limits and counters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from turbocat_core.domain.agent import add_runs
from turbocat_core.domain.common import (
    AgentId,
    Entity,
    JsonObject,
    QuerySpec,
    StepId,
    UserId,
    WorkflowId,
)

STEP_KEY: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MAX_RETRY_COUNT: Final = 10
DEFAULT_RETRY_ON_RETRY: Final = 3  # onError RETRY with retryCount 0 means three retries
MAX_RETRY_DELAY_MS: Final = 300_000  # backoff never waits more than five minutes


class WorkflowStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    ARCHIVED = "ARCHIVED"


class StepType(StrEnum):
    AGENT = "AGENT"
    CONDITION = "CONDITION"
    LOOP = "LOOP"
    PARALLEL = "PARALLEL"
    WAIT = "WAIT"


class OnError(StrEnum):
    FAIL = "FAIL"
    CONTINUE = "CONTINUE"
    RETRY = "RETRY"


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowStep(Entity):
    """One node of a workflow's DAG. ``inputs`` and ``config`` may hold ``{{references}}``."""

    id: StepId
    workflow_id: WorkflowId
    step_key: str
    step_name: str
    step_type: StepType
    agent_id: AgentId | None = None
    position: int = 0
    config: JsonObject = field(default_factory=dict)
    inputs: JsonObject = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    retry_count: int = 0
    retry_delay_ms: int = 1000
    timeout_seconds: float | None = None
    on_error: OnError = OnError.FAIL

    @property
    def max_retries(self) -> int:
        """How many times a failed attempt is retried (RETRY with 0 means three)."""
        if self.on_error is OnError.RETRY and self.retry_count == 0:
            return DEFAULT_RETRY_ON_RETRY
        return self.retry_count

    def definition(self) -> tuple[Any, ...]:
        """What the step does, without ids or timestamps: equal definitions give equal work."""
        return (
            self.step_key,
            self.step_type,
            self.agent_id,
            self.config,
            self.inputs,
            tuple(sorted(self.depends_on)),
            self.retry_count,
            self.retry_delay_ms,
            self.timeout_seconds,
            self.on_error,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Workflow(Entity):
    """A DAG of steps (stored apart, as ``WorkflowStep`` rows) with its run settings."""

    id: WorkflowId
    user_id: UserId
    name: str
    description: str | None = None
    status: WorkflowStatus = WorkflowStatus.DRAFT
    definition: JsonObject = field(default_factory=dict)
    trigger_config: JsonObject = field(default_factory=dict)
    schedule_enabled: bool = False
    schedule_cron: str | None = None
    schedule_timezone: str = "UTC"
    timeout_seconds: float = 3600
    max_concurrency: int = 8
    concurrency_limit: int | None = None
    version: int = 1
    parent_id: WorkflowId | None = None
    tags: tuple[str, ...] = ()
    is_public: bool = False
    total_executions: int = 0
    successful_executions: int = 0
    failed_executions: int = 0
    avg_execution_time_ms: float = 0.0
    last_execution_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def root_id(self) -> WorkflowId:
        return self.parent_id or self.id

    def revised(self, now: datetime) -> Workflow:
        """The workflow after its steps or settings changed: one version more.

        Executions record the version they were created from (and pin its steps).
        """
        return replace(self, version=self.version + 1, updated_at=now)

    def with_run(self, succeeded: bool, duration_ms: float, now: datetime) -> Workflow:
        """Counters after one more finished execution."""
        total, avg = add_runs(self.total_executions, self.avg_execution_time_ms, 1, duration_ms)
        return replace(
            self,
            total_executions=total,
            successful_executions=self.successful_executions + int(succeeded),
            failed_executions=self.failed_executions + int(not succeeded),
            avg_execution_time_ms=avg,
            last_execution_at=now,
            updated_at=now,
        )


WORKFLOW_QUERY: Final = QuerySpec(
    sortable=frozenset(
        {
            "created_at",
            "updated_at",
            "name",
            "status",
            "version",
            "total_executions",
            "last_execution_at",
        }
    ),
    filterable=frozenset({"status", "is_public", "user_id", "schedule_enabled"}),
)
