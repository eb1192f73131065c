"""The ports: what the core needs from the outside world, as small typing.Protocols.

Adapters implement them without inheriting. Every I/O port is async. Storage ports come
with one contract suite in ``tests/contracts/`` that every adapter passes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar
from uuid import UUID

# The agent executors' I/O ports have a module of their own; they are ports all the same.
from turbocat_core.agent_ports import CodeRequest as CodeRequest
from turbocat_core.agent_ports import CodeResult as CodeResult
from turbocat_core.agent_ports import CodeRunner as CodeRunner
from turbocat_core.agent_ports import HttpClient as HttpClient
from turbocat_core.agent_ports import HttpRequest as HttpRequest
from turbocat_core.agent_ports import HttpResponse as HttpResponse
from turbocat_core.agent_ports import JsonSchemas as JsonSchemas
from turbocat_core.agent_ports import LlmClient as LlmClient
from turbocat_core.agent_ports import LlmRequest as LlmRequest
from turbocat_core.agent_ports import LlmResponse as LlmResponse
from turbocat_core.agent_ports import ToolCall as ToolCall
from turbocat_core.agent_ports import ToolSpec as ToolSpec
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.analytics import (
    Interval,
    ResourceCounts,
    RunCounts,
    SeriesPoint,
    StepStats,
    Window,
)
from turbocat_core.domain.api_key import ApiKey
from turbocat_core.domain.api_traffic import MinuteCounts
from turbocat_core.domain.audit import AuditLog
from turbocat_core.domain.common import (
    AgentId,
    ApiKeyId,
    DeploymentId,
    ExecutionId,
    ListQuery,
    Page,
    StepId,
    TemplateId,
    UserId,
    WorkflowId,
)
from turbocat_core.domain.deployment import Deployment
from turbocat_core.domain.execution import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogQuery,
    StepRun,
)
from turbocat_core.domain.session import Session
from turbocat_core.domain.template import Template
from turbocat_core.domain.user import User
from turbocat_core.domain.workflow import Workflow, WorkflowStep

T = TypeVar("T")
IdT = TypeVar("IdT", contravariant=True)

# --- time, ids, randomness -------------------------------------------------------------


class Timer(Protocol):
    """A callback set to run later (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Wall time (UTC, aware), a monotonic reading for durations, and waiting.

    Everything the engine waits for (retry backoffs, WAIT steps, delayed jobs, attempt
    timeouts, a run's deadline) goes through the clock, so a test clock can move it.
    """

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` on the running event loop once ``seconds`` have passed."""
        ...

    def timeout(self, seconds: float) -> AbstractAsyncContextManager[object]:
        """``asyncio.timeout(seconds)`` in this clock's time: the block's task is
        cancelled when they have passed, and ``TimeoutError`` comes out of the block."""
        ...


class IdGenerator(Protocol):
    """New unique ids (time-ordered where the adapter can, for index locality)."""

    def new_id(self) -> UUID: ...


class RandomSource(Protocol):
    """Randomness: ``random()`` in [0, 1) for jitter, ``token()`` for secrets (CSPRNG)."""

    def random(self) -> float: ...

    def token(self, nbytes: int) -> str:
        """``nbytes`` random bytes as URL-safe base64 without padding."""
        ...


# --- repositories and the unit of work ------------------------------------------------


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


class UnitOfWork(Protocol):
    """One transaction over every repository.

    ``async with uow:`` opens it; ``await uow.commit()`` makes the writes durable and
    visible; leaving the block without a commit (or by an exception) rolls them back.
    """

    users: UserRepository
    agents: AgentRepository
    workflows: WorkflowRepository
    steps: StepRepository
    executions: ExecutionRepository
    step_runs: StepRunRepository
    logs: ExecutionLogRepository
    templates: TemplateRepository
    deployments: DeploymentRepository
    api_keys: ApiKeyRepository
    audit_logs: AuditLogRepository
    analytics: AnalyticsRepository

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


UnitOfWorkFactory = Callable[[], UnitOfWork]


# --- security --------------------------------------------------------------------------


class PasswordHasher(Protocol):
    """Slow, salted password hashing (bcrypt); runs off the event loop."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str) -> bool:
        """``False`` for a wrong password or an unusable hash; never raises for bad input."""
        ...


class TokenIssuer(Protocol):
    """Signed tokens (JWT) with a pinned algorithm."""

    def issue(self, claims: Mapping[str, Any], ttl_seconds: int) -> str: ...

    def verify(self, token: str, expected_type: str) -> dict[str, Any]:
        """The claims, or ``Unauthenticated`` (code TOKEN_EXPIRED or INVALID_TOKEN)."""
        ...


class SessionStore(Protocol):
    """Login sessions and their refresh-token family."""

    async def put(self, session: Session) -> None: ...

    async def get(self, session_id: UUID) -> Session | None: ...

    async def rotate(
        self,
        session_id: UUID,
        expected_hash: str,
        new_hash: str,
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        """Swap the refresh hash, only if the session is not revoked and still holds
        ``expected_hash`` (a compare-and-set: of two refreshes with one token, one wins,
        and a refresh racing a logout never brings the session back). ``False``: nothing
        was written."""
        ...

    async def revoke(self, session_id: UUID) -> None: ...

    async def revoke_all(self, user_id: UserId, *, keep: UUID | None = None) -> int:
        """Revoke every session of a user (but ``keep``); how many were newly revoked."""
        ...


class OneTimeTokens(Protocol):
    """Single-use tokens with a time to live (password reset)."""

    async def put(self, token_hash: str, subject: str, ttl_seconds: int) -> None: ...

    async def take(self, token_hash: str) -> str | None:
        """The subject, once: the token is gone afterwards (also when expired: ``None``)."""
        ...

    async def forget(self, subject: str) -> int:
        """Delete every token of ``subject`` (e.g. the other reset links once one is used)."""
        ...


class ReplayGuard(Protocol):
    """Keys accepted once within a time to live (signed webhooks: a request is not replayed).

    Expiry follows the injected clock's time, shared by processes; expired keys are
    deleted by later writes, so nothing piles up.
    """

    async def first_use(self, key: str, ttl_seconds: int) -> bool:
        """``True`` if ``key`` is not remembered (never used, forgotten or expired): it is
        then remembered for ``ttl_seconds``. ``False`` while it is remembered. Atomic: of
        concurrent calls with one key, in any processes, exactly one gets ``True``."""
        ...

    async def forget(self, key: str) -> None:
        """Forget ``key`` at once (a use that started nothing may come again)."""
        ...


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    """Seconds until the window has room again (Retry-After when refused)."""


class RateLimiter(Protocol):
    """A sliding-window limit, atomic across processes sharing the store."""

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Count one hit if the window has room (a refused hit is not counted)."""
        ...

    async def peek(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """What ``hit`` would answer, without counting anything."""
        ...

    async def reset(self, key: str) -> None:
        """Forget every hit of ``key`` (e.g. failed logins, after a successful one)."""
        ...


class SecretBox(Protocol):
    """Authenticated encryption of small secrets (AES-256-GCM), with key ids for rotation."""

    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, token: str) -> str:
        """The plaintext; ``ValidationFailed`` for a token that was tampered with."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Email:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    """Sends email. ``send`` hands the message over and returns without waiting for the
    mail server, so a caller's response time does not reveal whether a message was sent."""

    async def send(self, email: Email) -> None: ...


# --- running work ---------------------------------------------------------------------


class JobQueue(Protocol):
    """Hands executions to whatever runs them (in-process tasks, RQ workers)."""

    async def enqueue_execution(
        self, execution_id: ExecutionId, *, at: datetime | None = None
    ) -> None:
        """Run (or resume) the execution, now or at ``at``."""
        ...


class Claims(Protocol):
    """Named claims that expire, shared by every process of a deployment (Redis in a fleet).

    A claim has one holder at a time until it expires or is released. Leases on running
    executions, once-only schedule ticks and "only one process does this now" all use them.
    """

    async def claim(self, name: str, holder: str, ttl: float, *, over: str = "") -> bool:
        """Take ``name`` for ``ttl`` seconds if it is free, already ``holder``'s (renewing
        it), or held by a holder starting with ``over`` (when ``over`` is not empty)."""
        ...

    async def renew(self, name: str, holder: str, ttl: float) -> bool:
        """Extend ``holder``'s claim; ``False`` when it is no longer theirs (or expired)."""
        ...

    async def release(self, name: str, holder: str) -> None:
        """Give the claim up if ``holder`` still holds it (else nothing happens)."""
        ...

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        """The current holder of each name (``None`` where it is free)."""
        ...


class CancellationSignal(Protocol):
    """Tells whoever runs an execution to stop it (same process or another one)."""

    async def request(self, execution_id: ExecutionId) -> None: ...

    async def wait(self, execution_id: ExecutionId) -> None:
        """Return once cancellation of the execution is requested (also if it already was)."""
        ...

    def forget(self, execution_id: ExecutionId) -> None:
        """The execution ended: drop what was kept for it."""
        ...


class ApiUsage(Protocol):
    """What the API answered, per minute, for the whole deployment (``domain.api_traffic``):
    in this process, or in Redis where the deployment's processes share it."""

    def record(self, status: int, seconds: float) -> None:
        """One answered request (cheap and non-blocking: called for every request)."""
        ...

    async def last_minutes(self, minutes: int) -> MinuteCounts:
        """The counts of the current minute and the ``minutes - 1`` before it, added up."""
        ...
