"""Executions, their per-step state and their logs, with the legal status moves."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from turbocat_core.domain.common import (
    DeploymentId,
    Entity,
    ExecutionId,
    JsonObject,
    LogId,
    QuerySpec,
    StepId,
    UserId,
    WorkflowId,
    elapsed_ms,
)
from turbocat_core.domain.workflow import WorkflowStep
from turbocat_core.errors import InvalidState


class ExecutionStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED: Final = frozenset(
    {
        ExecutionStatus.COMPLETED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.TIMEOUT,
    }
)
RETRYABLE: Final = frozenset(
    {ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.TIMEOUT}
)

_E = ExecutionStatus
EXECUTION_TRANSITIONS: Final[dict[ExecutionStatus, frozenset[ExecutionStatus]]] = {
    # PENDING -> FAILED: the run could not start (its steps no longer validate).
    _E.PENDING: frozenset({_E.RUNNING, _E.CANCELLED, _E.FAILED}),
    _E.RUNNING: frozenset({_E.COMPLETED, _E.FAILED, _E.CANCELLED, _E.TIMEOUT}),
    _E.COMPLETED: frozenset(),
    _E.FAILED: frozenset(),
    _E.CANCELLED: frozenset(),
    _E.TIMEOUT: frozenset(),
}


class TriggerType(StrEnum):
    MANUAL = "MANUAL"
    SCHEDULED = "SCHEDULED"
    API = "API"
    WEBHOOK = "WEBHOOK"
    EVENT = "EVENT"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
    FATAL = "FATAL"


class StepStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"

    @property
    def finished(self) -> bool:
        return self in _STEP_ENDS


_STEP_ENDS: Final = frozenset({StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED})
"""Looked up once, not as three class attributes at each call (asked several times a step)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Execution(Entity):
    """One run of a workflow, pinned to the steps and settings it was created with."""

    id: ExecutionId
    workflow_id: WorkflowId
    user_id: UserId
    status: ExecutionStatus = ExecutionStatus.PENDING
    trigger_type: TriggerType = TriggerType.MANUAL
    trigger_data: JsonObject = field(default_factory=dict)
    input_data: JsonObject = field(default_factory=dict)
    metadata: JsonObject = field(default_factory=dict)
    output_data: JsonObject | None = None
    error_message: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: float | None = None
    steps_total: int = 0
    steps_completed: int = 0
    steps_failed: int = 0
    workflow_version: int = 1
    steps: tuple[WorkflowStep, ...] = ()
    timeout_seconds: float = 3600
    max_concurrency: int = 8
    retry_of: ExecutionId | None = None
    parent_execution_id: ExecutionId | None = None
    depth: int = 0
    deployment_id: DeploymentId | None = None
    # The engine's own bookkeeping of who processes the run (never on the wire). Only
    # ``ExecutionRepository.begin_processing``/``end_processing`` change them: ``update``
    # and ``update_if`` keep what is stored, as they keep the pinned ``steps``.
    recoveries: int = field(default=0, repr=False)
    """How many processings of this run ended without finishing or handing it back (their
    process died, or they failed for a reason that is not a step's own)."""
    processing: str | None = field(default=None, repr=False)
    """The token of the processing under way, or of the last one if it never ended."""
    last_failure: str | None = field(default=None, repr=False)
    """Why the last counted processing failed (``None``: its process stopped without a word)."""

    def moved_to(self, status: ExecutionStatus, now: datetime, **changes: Any) -> Execution:
        """The execution in ``status``, timestamps and duration set; ``InvalidState`` if illegal."""
        if status not in EXECUTION_TRANSITIONS[self.status]:
            raise InvalidState(f"a {self.status} execution cannot become {status}")
        started = self.started_at
        if status is ExecutionStatus.RUNNING and started is None:
            started = now
        if status.finished:
            changes.setdefault("completed_at", now)
            begun = started or now
            changes.setdefault("duration_ms", elapsed_ms(begun, now))
        return replace(self, status=status, started_at=started, updated_at=now, **changes)


EXECUTION_QUERY: Final = QuerySpec(
    sortable=frozenset({"created_at", "started_at", "completed_at", "duration_ms", "status"}),
    filterable=frozenset(
        {
            "status",
            "workflow_id",
            "user_id",
            "trigger_type",
            "retry_of",
            "deployment_id",
            "parent_execution_id",
        }
    ),
    searchable=(),
    has_tags=False,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRun(Entity):
    """The durable state of one step in one execution: what resume and retry-from-failure read.

    One row per (execution, step key), rewritten at each transition. ``reused_from`` names the
    execution whose output a retry reused instead of running the step again.
    """

    execution_id: ExecutionId
    step_key: str
    step_id: StepId | None
    status: StepStatus
    attempt: int = 0
    output: Any = None
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: float | None = None
    reused_from: ExecutionId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionLog(Entity):
    """One log line of an execution; ``seq`` (given by the store) orders an execution's lines."""

    id: LogId
    execution_id: ExecutionId
    level: LogLevel
    message: str
    workflow_step_id: StepId | None = None
    step_key: str | None = None
    metadata: JsonObject = field(default_factory=dict)
    step_status: StepStatus | None = None
    step_started_at: datetime | None = None
    step_completed_at: datetime | None = None
    step_duration_ms: float | None = None
    attempt: int | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LogQuery:
    """Which log lines to read: filters, a ``after_seq`` cursor (for streams), and a page."""

    level: LogLevel | None = None
    step_key: str | None = None
    since: datetime | None = None
    after_seq: int = 0
    page: int = 1
    page_size: int = 100
