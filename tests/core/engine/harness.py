"""An engine over the in-memory store and a manual clock, with agents that tests script."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from dependency_injector import providers

from turbocat_adapters.container import Container
from turbocat_adapters.memory import InProcessCancellation, InProcessQueue, ManualClock, MemoryStore
from turbocat_adapters.settings import Settings
from turbocat_adapters.store_contract import Store
from turbocat_adapters.system import UuidV7Generator
from turbocat_core import ports
from turbocat_core.agents.contract import AgentExecutors, RunContext
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.agents.function_agent import FunctionExecutor, FunctionRegistry, StepFunction
from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, ExecutionId, UserId, WorkflowId
from turbocat_core.domain.execution import Execution, ExecutionLog, LogQuery, StepRun
from turbocat_core.domain.user import User, UserRole
from turbocat_core.domain.workflow import Workflow, WorkflowStatus, WorkflowStep
from turbocat_core.engine.env import RunEnv
from turbocat_core.engine.runner import Engine, EngineSettings
from turbocat_core.usecases.executions import CancelExecution, RetryExecution, StartExecution

T0 = datetime(2026, 1, 1, tzinfo=UTC)
Behaviour = Callable[[dict[str, Any], dict[str, Any], RunContext], Awaitable[Any]]


class FixedRandom:
    """A RandomSource whose ``random()`` is set by the test (jitter bounds)."""

    def __init__(self, value: float = 0.5) -> None:
        self.value = value

    def random(self) -> float:
        return self.value

    def token(self, nbytes: int) -> str:
        return "x" * nbytes


class ScriptedAgents:
    """Runs CODE agents by their name: each test registers what a named agent does.

    Records every call (agent name, inputs, attempt) so tests can count real work.
    """

    def __init__(self) -> None:
        self.behaviours: dict[str, Behaviour] = {}
        self.calls: list[tuple[str, dict[str, Any], int]] = []
        self.running = 0
        self.max_running = 0

    def on(self, name: str, behaviour: Behaviour) -> None:
        self.behaviours[name] = behaviour

    def check_config(self, config: dict[str, Any]) -> None:
        return None

    async def execute(
        self, agent: Agent, config: dict[str, Any], inputs: dict[str, Any], ctx: RunContext
    ) -> Any:
        self.calls.append((agent.name, inputs, ctx.attempt))
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            return await self.behaviours[agent.name](config, inputs, ctx)
        finally:
            self.running -= 1

    def count(self, name: str) -> int:
        return sum(1 for called, _, _ in self.calls if called == name)


async def echo(config: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> Any:
    return inputs


def sleeper(seconds: float, result: Any = "slept") -> Behaviour:
    async def behaviour(config: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> Any:
        await asyncio.sleep(seconds)  # real time: the work this step stands for
        return result

    return behaviour


async def ensure_user(uow: ports.UnitOfWork, user_id: UserId) -> None:
    """Add a user row for ``user_id`` unless there is one (the stores enforce foreign keys)."""
    if await uow.users.get(user_id) is None:
        await uow.users.add(
            User(
                id=user_id,
                created_at=T0,
                updated_at=T0,
                email=f"{user_id}@example.com",
                password_hash="x",
            )
        )


@functools.cache
def _root() -> Container:
    """One composition root for every harness of the process (building one costs ~10 ms):
    each engine is made under overrides that are undone at once."""
    return Container(settings=providers.Object(Settings(database_url="memory://")))


@dataclass
class Harness:
    store: Store = field(default_factory=MemoryStore)
    clock: ManualClock = field(default_factory=lambda: ManualClock(T0))
    random: FixedRandom = field(default_factory=FixedRandom)
    scripted: ScriptedAgents = field(default_factory=ScriptedAgents)
    cancellation: InProcessCancellation = field(default_factory=InProcessCancellation)
    settings: EngineSettings = field(default_factory=EngineSettings)
    env: Mapping[str, str] = field(default_factory=dict)
    env_owner: UserId | None = None
    """Whose ``env`` is (a deployment's owner); ``None``: the workflow's owner's."""
    owner: UserId = field(default_factory=lambda: UserId(uuid4()))
    lines: list[ExecutionLog] = field(default_factory=list)
    functions: FunctionRegistry = field(default_factory=FunctionRegistry)
    """The Python functions FUNCTION agents run (``function_agent`` registers one)."""

    def __post_init__(self) -> None:
        self.ids = UuidV7Generator()
        self.actor = Actor(user_id=self.owner, role=UserRole.USER)
        if isinstance(self.store, MemoryStore):  # other stores: see tests/integration/stores.py
            self.new_actor(UserRole.USER, self.owner)
        self.engine = self.make_engine()
        self.queue = InProcessQueue(runner=self.engine.run, clock=self.clock)

    def new_actor(self, role: UserRole = UserRole.USER, user_id: UserId | None = None) -> Actor:
        """An actor whose user row exists (the store enforces foreign keys)."""
        user_id = user_id or UserId(uuid4())
        if not isinstance(self.store, MemoryStore):
            raise TypeError("new_actor puts a committed row straight into a MemoryStore")
        self.store.tables["users"].put(
            User(
                id=user_id,
                created_at=T0,
                updated_at=T0,
                email=f"{user_id}@example.com",
                password_hash="x",
                role=role,
            )
        )
        return Actor(user_id=user_id, role=role)

    def make_engine(self) -> Engine:
        """A new engine over the same store (another worker), built by the composition root
        with this harness's store, clock, ids, randomness, agents and cancellation."""

        async def env_for(execution: Execution) -> RunEnv:
            return RunEnv(values=self.env, owner=self.env_owner)

        parts = {
            "store": self.store,
            "clock": self.clock,
            "ids": self.ids,
            "random": self.random,
            "cancellation": self.cancellation,
            "functions": self.functions,
            "executors": AgentExecutors(
                {
                    AgentType.CODE: self.scripted,
                    AgentType.DATA: DataAgent(),
                    AgentType.FUNCTION: FunctionExecutor(self.functions),
                }
            ),
        }
        root = _root()
        with contextlib.ExitStack() as overridden:
            for name, part in parts.items():
                overridden.enter_context(getattr(root, name).override(providers.Object(part)))
            root.engine.reset()  # everything else it takes is overridden or given here
            # What the engine's tests set themselves; no claims: concurrencyLimit is tested
            # where a test gives them (test_queued_runs.py).
            engine: Engine = root.engine(
                settings=self.settings, env_for=env_for, on_log=self.lines.append, claims=None
            )
        return engine

    @property
    def start(self) -> StartExecution:
        return StartExecution(
            uow=self.store.unit_of_work, clock=self.clock, ids=self.ids, queue=self.queue
        )

    @property
    def cancel(self) -> CancelExecution:
        return CancelExecution(
            uow=self.store.unit_of_work,
            clock=self.clock,
            ids=self.ids,
            cancellation=self.cancellation,
        )

    @property
    def retry(self) -> RetryExecution:
        return RetryExecution(
            uow=self.store.unit_of_work, clock=self.clock, ids=self.ids, queue=self.queue
        )

    async def agent(
        self,
        name: str,
        behaviour: Behaviour | None = None,
        *,
        agent_type: AgentType = AgentType.CODE,
        config: dict[str, Any] | None = None,
        owner: UserId | None = None,
        **fields: Any,
    ) -> Agent:
        agent = Agent(
            id=AgentId(uuid4()),
            created_at=T0,
            updated_at=T0,
            user_id=owner or self.owner,
            name=name,
            type=agent_type,
            status=AgentStatus.ACTIVE,
            config=config or {},
            **fields,
        )
        if behaviour is not None:
            self.scripted.on(name, behaviour)
        async with self.store.unit_of_work() as uow:
            await ensure_user(uow, agent.user_id)
            await uow.agents.add(agent)
            await uow.commit()
        return agent

    async def function_agent(self, name: str, fn: StepFunction | None = None) -> Agent:
        """A FUNCTION agent running the function ``name`` (registered as ``fn`` if given)."""
        if fn is not None:
            self.functions.register(name, fn)
        return await self.agent(name, agent_type=AgentType.FUNCTION, config={"function": name})

    async def workflow(self, steps: Sequence[WorkflowStep], **fields: Any) -> Workflow:
        workflow = Workflow(
            id=WorkflowId(uuid4()),
            created_at=T0,
            updated_at=T0,
            user_id=self.owner,
            name="test workflow",
            status=WorkflowStatus.ACTIVE,
            **fields,
        )
        async with self.store.unit_of_work() as uow:
            await ensure_user(uow, workflow.user_id)
            await uow.workflows.add(workflow)
            for position, step in enumerate(steps):
                await uow.steps.add(
                    replace(step, workflow_id=workflow.id, position=step.position or position)
                )
            await uow.commit()
        return workflow

    async def run(
        self, workflow: Workflow, inputs: dict[str, Any] | None = None, **kw: Any
    ) -> Execution:
        execution = await self.start(self.actor, workflow.id, inputs=inputs, **kw)
        await self.queue.drain()
        return await self.execution(execution.id)

    async def execution(self, execution_id: ExecutionId) -> Execution:
        async with self.store.unit_of_work() as uow:
            found = await uow.executions.get(execution_id)
        assert found is not None
        return found

    async def runs(self, execution_id: ExecutionId) -> dict[str, StepRun]:
        async with self.store.unit_of_work() as uow:
            return {run.step_key: run for run in await uow.step_runs.for_execution(execution_id)}

    async def logs(self, execution_id: ExecutionId) -> list[ExecutionLog]:
        async with self.store.unit_of_work() as uow:
            page = await uow.logs.list(execution_id, LogQuery(page_size=1000))
        return page.items

    async def reload_workflow(self, workflow_id: WorkflowId) -> Workflow:
        async with self.store.unit_of_work() as uow:
            found = await uow.workflows.get(workflow_id)
        assert found is not None
        return found
