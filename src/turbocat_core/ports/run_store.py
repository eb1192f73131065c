"""The run store: the repositories the engine reads and writes, and the unit of work over them.

A store that only runs workflows implements this; the full ``UnitOfWork``
(``ports.storage``) extends it with API keys, templates, deployments and analytics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, TypeVar

from turbocat_core.domain.agent import Agent
from turbocat_core.domain.audit import AuditLog
from turbocat_core.domain.common import (
    AgentId,
    ExecutionId,
    ListQuery,
    Page,
    StepId,
    UserId,
    WorkflowId,
)
from turbocat_core.domain.execution import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogQuery,
    StepRun,
)
from turbocat_core.domain.user import User
from turbocat_core.domain.workflow import Workflow, WorkflowStep

T = TypeVar("T")
IdT = TypeVar("IdT", contravariant=True)


class Repository(Protocol[T, IdT]):
    """Rows of one aggregate. Soft-deleted rows read as absent; writes copy, reads copy.

    ``add`` raises ``Conflict`` on a duplicate id or unique field; ``update`` raises
    ``NotFound`` for a missing (or soft-deleted) row; ``list`` raises ``ValidationFailed``
    for a query its resource does not allow.
    """

    async def add(self, entity: T) -> None: ...

    async def get(self, entity_id: IdT) -> T | None: ...

    async def update(self, entity: T) -> None: ...

    async def list(self, query: ListQuery) -> Page[T]: ...


class UserRepository(Repository[User, UserId], Protocol):
    async def get_by_email(self, email: str) -> User | None:
        """By normalised email (emails are unique case-insensitively)."""
        ...


class AgentRepository(Repository[Agent, AgentId], Protocol):
    async def versions(self, root_id: AgentId) -> list[Agent]:
        """Every live agent of a version tree, newest version first."""
        ...

    async def record_runs(
        self, agent_id: AgentId, *, succeeded: int, failed: int, total_ms: float, now: datetime
    ) -> None:
        """Add finished runs to the counters atomically (no lost updates between runs)."""
        ...


class WorkflowRepository(Repository[Workflow, WorkflowId], Protocol):
    async def versions(self, root_id: WorkflowId) -> list[Workflow]: ...

    async def record_run(
        self, workflow_id: WorkflowId, *, succeeded: bool, duration_ms: float, now: datetime
    ) -> None:
        """Add one finished execution to the counters atomically."""
        ...


class StepRepository(Protocol):
    """A workflow's steps; ``(workflow_id, step_key)`` is unique (``Conflict`` otherwise)."""

    async def add(self, step: WorkflowStep) -> None: ...

    async def update(self, step: WorkflowStep) -> None: ...

    async def delete(self, step_id: StepId) -> None: ...

    async def for_workflow(self, workflow_id: WorkflowId) -> list[WorkflowStep]:
        """The steps ordered by position, then step key."""
        ...

    async def agent_used_by_others(self, agent_id: AgentId, owner_id: UserId) -> bool:
        """Whether a step of a live (not deleted) workflow of a user other than ``owner_id``
        calls the agent, as the engine finds the agents a step calls (``agent_ids_of``):
        the step's ``agent_id``, a LOOP's ``config.agentId``, a PARALLEL branch's
        ``agentId``; ids in config text match in any case, with or without hyphens,
        braces or a ``urn:uuid:`` prefix."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneCount:
    """What one ``ExecutionRepository.prune_finished`` call deleted."""

    executions: int = 0
    logs: int = 0
    step_runs: int = 0


class ExecutionRepository(Repository[Execution, ExecutionId], Protocol):
    async def update_if(self, execution: Execution, expect: ExecutionStatus) -> bool:
        """Write only if the stored status is still ``expect``; ``False`` (no write) otherwise."""
        ...

    async def add_step_counts(
        self, execution_id: ExecutionId, *, completed: int = 0, failed: int = 0
    ) -> None:
        """Increment the step counters atomically."""
        ...

    async def status_of(self, execution_id: ExecutionId) -> ExecutionStatus | None:
        """The stored status alone (cheap: what cancellation polls)."""
        ...

    async def begin_processing(self, execution_id: ExecutionId, token: str) -> Execution | None:
        """Record that the processing ``token`` now runs this PENDING or RUNNING execution,
        and return the execution as stored then (``None`` for an unknown id; a finished
        one is returned unchanged).

        If the processing before never ended (``processing`` is still set: its process
        died, or ``end_processing`` said it failed), ``recoveries`` goes up by one and
        ``last_failure`` keeps that processing's reason; otherwise ``last_failure`` is
        cleared. One atomic change, under the execution's lease (one processing at a time).
        """
        ...

    async def end_processing(
        self, execution_id: ExecutionId, token: str, *, failure: str | None = None
    ) -> None:
        """The processing ``token`` stops without finishing the run: handing it back
        (``failure`` is ``None``: ``processing`` is cleared, so the next one counts
        nothing), or failing for a reason that is not a step's own (``processing`` stays
        set, so the next one counts it, and ``last_failure`` = ``failure``). Nothing
        happens if another processing has begun since.
        """
        ...

    async def prune_finished(self, before: datetime, limit: int) -> PruneCount:
        """Delete at most ``limit`` finished executions (COMPLETED, FAILED, CANCELLED,
        TIMEOUT) that ended before ``before`` (``completed_at``, or ``created_at`` where that
        is null), with their log lines and step runs; how many of each went.

        Never a PENDING or RUNNING execution, nor one that a PENDING or RUNNING execution
        names as its ``retry_of`` or ``parent_execution_id`` (its runner still writes those
        references): it goes once that one has finished. Rows that stay lose their
        references to what went: ``retry_of`` and ``parent_execution_id`` become null, and a
        step run that reused a pruned execution's output names its own execution in
        ``reused_from`` (it keeps its copy of the output and still counts as reused).
        Executions another transaction holds locked are skipped (a later call takes them).
        Audit log entries are kept. Nothing is deleted until the unit of work commits.
        ``ValidationFailed`` for a ``limit`` below 1.
        """
        ...


class StepRunRepository(Protocol):
    """The durable per-step state of executions, one row per (execution, step key)."""

    async def save(self, step_run: StepRun) -> None:
        """Insert or replace the row of ``(execution_id, step_key)``."""
        ...

    async def for_execution(self, execution_id: ExecutionId) -> list[StepRun]: ...


class ExecutionLogRepository(Protocol):
    async def append(self, logs: Sequence[ExecutionLog]) -> list[ExecutionLog]:
        """Add lines, giving each the next ``seq`` of its execution, in order; the lines as stored.

        ``seq`` is assigned by the store when the transaction writes, so lines from several
        writers (a runner, a cancel request) never share a number, and within one execution
        a higher ``seq`` is never committed before a lower one (streams can use it as a cursor).
        """
        ...

    async def list(self, execution_id: ExecutionId, query: LogQuery) -> Page[ExecutionLog]:
        """Lines in ``seq`` order, filtered and paged."""
        ...

    async def last_seq(self, execution_id: ExecutionId) -> int:
        """The highest ``seq`` written so far (0 when none)."""
        ...


class AuditLogRepository(Protocol):
    async def append(self, entry: AuditLog) -> None: ...

    async def list(
        self,
        query: ListQuery,
        *,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> Page[AuditLog]:
        """A page of entries; with ``created_from``/``created_to``, only those created in
        ``[created_from, created_to)``."""
        ...


class RunUnitOfWork(Protocol):
    """One transaction over the repositories running workflows needs: the engine's, the
    owners runs belong to (``users``), and the audit trail the use cases that start, retry
    and cancel executions write.

    ``async with uow:`` opens it; repositories may only be used inside the block
    (``RuntimeError`` otherwise). The transaction begins with the first statement; reads see
    its own writes merged with committed data, and other units of work see only what is
    committed. ``await uow.commit()`` makes the writes durable and visible; a commit that
    fails (``Conflict``) applies nothing of the transaction. ``rollback()``, or leaving the
    block without a commit (or by an exception), undoes what was not committed.

    After ``commit()`` or ``rollback()`` the unit of work stays usable: later writes form a
    new transaction that needs its own ``commit()``.
    """

    users: UserRepository
    agents: AgentRepository
    workflows: WorkflowRepository
    steps: StepRepository
    executions: ExecutionRepository
    step_runs: StepRunRepository
    logs: ExecutionLogRepository
    audit_logs: AuditLogRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def deferred(self) -> AbstractAsyncContextManager[None]:
        """A block of writes the store may send together: a write refused inside it may
        raise only at the end of the block (or at ``commit()``), and then the whole
        transaction is lost, not just that write. For all-or-nothing batches (the engine's
        journal); stores that gain nothing from it run the block as usual. ``commit()``
        inside the block may go with the block's writes and take effect when it ends (an
        error raised by the block's end then means nothing was committed); nothing may be
        written in the block after it."""
        ...


RunUnitOfWorkFactory = Callable[[], RunUnitOfWork]
