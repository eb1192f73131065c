"""The agent-executor contract: what the engine hands an agent and what it expects back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from turbocat_core.agents.configs import check_agent_config
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.domain.agent import Agent, AgentType
from turbocat_core.domain.common import ExecutionId, JsonObject, UserId, WorkflowId
from turbocat_core.domain.execution import Execution, LogLevel
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.coordination import CancellationSignal, Claims
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.run_store import RunUnitOfWorkFactory

LogFn = Callable[[LogLevel, str, JsonObject], Awaitable[None]]
"""Writes one line to the execution's log, attached to the running step."""


async def _discard(level: LogLevel, message: str, metadata: JsonObject) -> None:
    return None


LogLine = tuple[LogLevel, str, JsonObject]
CheckpointFn = Callable[[Any, LogLine | None], Awaitable[None]]
"""Stores an attempt's state with its step run (and a log line with it, in one transaction):
what ``RunContext.restored`` gives the step's next attempt, after a crash or a retry."""


class AgentCalls(Protocol):
    """Other agents an agent may run (the LLM agent's tools), each run as a step runs one:
    the run's owner's access rules, the agent's timeout, its secrets rules, the executors'
    guards and the step output limit. Both raise ``AgentFailure``."""

    async def find(self, agent_id: Any) -> Agent:
        """The agent, if the run's owner may use it and it can run."""
        ...

    async def run(self, agent: Agent, inputs: JsonObject) -> Any:
        """Its output for ``inputs`` (used as given: references in them are not resolved)."""
        ...


class ChildRuns(Protocol):
    """What the engine running a step lends the WORKFLOW agent to run child executions in
    this process: its store, clock, ids, claims and cancellation, and one processing of a
    child with this engine."""

    @property
    def uow(self) -> RunUnitOfWorkFactory: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def ids(self) -> IdGenerator: ...
    @property
    def cancellation(self) -> CancellationSignal: ...
    @property
    def claims(self) -> Claims | None:
        """Where leases and concurrency limits are decided (``None``: not enforced)."""
        ...

    async def run_once(self, execution_id: ExecutionId) -> Execution | None:
        """Process the child once, to its end (it holds the parent's worker, so it never
        parks on a WAIT); ``None`` when its workflow's ``concurrencyLimit`` holds it back
        (still PENDING: try again later)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RunContext:
    """Where an agent runs: the execution, the step, the attempt, secrets, a log, and what
    the engine running it lends it."""

    execution_id: ExecutionId
    workflow_id: WorkflowId
    user_id: UserId
    step_key: str
    attempt: int = 1
    depth: int = 0
    env: Mapping[str, str] = field(default_factory=dict)
    """The run's deployment variables when the agent belongs to their owner, else empty
    (another user's agent never sees them: ``engine.env``)."""
    log: LogFn = _discard
    children: ChildRuns | None = None
    """How the WORKFLOW agent runs child executions, with the engine running the step;
    ``None`` where an agent is called outside a run."""
    calls: AgentCalls | None = None
    """Other agents this one may run as tools; ``None`` outside a run."""
    checkpoint: CheckpointFn | None = None
    """Journals the attempt's state; ``None`` where it is not durable (LOOP and PARALLEL
    calls, tools, outside a run)."""
    restored: Any = None
    """The last state an earlier attempt of this step journaled, else ``None``."""
    suspend: Callable[[], Awaitable[Any]] | None = None
    """Waits until someone else changes the journaled state (an approval), holding no
    worker when nothing else runs (the run parks as on a long WAIT), and returns it."""


class AgentExecutor(Protocol):
    """Runs agents of one type.

    ``check_config`` raises ``ValidationFailed`` naming bad fields as ``config.<path>`` (used
    when agents are saved). ``execute`` gets the agent's config and the step inputs with their
    references already resolved, must treat both as read-only, returns a JSON value, and
    reports failures as ``AgentFailure`` (with a kind for ``retryOn``). It may be cancelled
    at any await (cancellation, timeouts) and must leave nothing running when it is.
    """

    def check_config(self, config: JsonObject) -> None: ...

    async def execute(
        self, agent: Agent, config: JsonObject, inputs: JsonObject, ctx: RunContext
    ) -> Any: ...


class AgentExecutors:
    """The executors available to an engine, by agent type."""

    __slots__ = ("_by_type",)

    def __init__(self, executors: Mapping[AgentType, AgentExecutor]) -> None:
        self._by_type = dict(executors)

    def get(self, agent_type: AgentType) -> AgentExecutor:
        """The executor, or a non-retryable ``AgentFailure`` naming what is missing."""
        try:
            return self._by_type[agent_type]
        except KeyError:
            raise AgentFailure(
                f"{agent_type} agents cannot run here: no {agent_type} executor is configured",
                retryable=False,
            ) from None

    def wrapped(self, wrap: Callable[[AgentType, AgentExecutor], AgentExecutor]) -> AgentExecutors:
        """The same executors, each passed through ``wrap`` (a test runtime watches them)."""
        return AgentExecutors({kind: wrap(kind, ex) for kind, ex in self._by_type.items()})

    def supports(self, agent_type: AgentType) -> bool:
        return agent_type in self._by_type

    def check_config(self, agent_type: AgentType, config: JsonObject) -> None:
        """Validate a config with its type's executor, or, where this process has none for the
        type, with the type's shape checker (``agents.configs``): ``ValidationFailed`` naming
        ``config.<path>``. Agents are checked when saved whether or not they can run here."""
        executor = self._by_type.get(agent_type)
        if executor is not None:
            executor.check_config(config)
        else:
            check_agent_config(agent_type, config)
