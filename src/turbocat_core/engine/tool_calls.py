"""What a step gives an agent that runs other agents (the LLM agent's tools) and journals
its own progress: ``RunContext.calls`` and ``RunContext.checkpoint`` (docs/agents.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from turbocat_core.agents.contract import AgentExecutor, LogLine
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import AgentId, JsonObject
from turbocat_core.domain.execution import StepRun
from turbocat_core.engine.deps import EngineDeps
from turbocat_core.engine.journal import Journal
from turbocat_core.engine.refs import references_in
from turbocat_core.engine.state import RunState
from turbocat_core.engine.validation import agent_ref


class StepWork(Protocol):
    """What of ``steps.StepWork`` this module uses (named here: steps imports this module)."""

    deps: EngineDeps
    journal: Journal
    state: RunState
    agents: dict[AgentId, Agent | None]
    on_wait: Callable[[str, datetime], None] | None

    def _agent(self, reference: Any) -> Agent: ...

    def _resolve(
        self, value: Any, what: str, attempt: Any, loop: Any = None, *, agent: Agent | None = None
    ) -> Any: ...

    async def _execute(
        self,
        agent: Agent,
        executor: AgentExecutor,
        config: JsonObject,
        resolved: Any,
        run: StepRun,
        durable: Any = None,
    ) -> Any: ...

    def _check_output(self, output: Any) -> None: ...


SUSPEND_POLL: Final = 0.25
"""Seconds between two looks at a suspended step's stored state while its run stays here."""


class StepCalls:
    """``AgentCalls`` for one attempt: a tool runs as an AGENT step would run its agent."""

    __slots__ = ("attempt", "work")

    def __init__(self, work: StepWork, attempt: Any) -> None:
        self.work = work
        self.attempt = attempt

    async def find(self, agent_id: Any) -> Agent:
        work = self.work
        key = agent_ref(agent_id)
        if key is not None and key not in work.agents:  # not one the steps name: load it once
            async with work.deps.uow() as uow:
                work.agents[key] = await uow.agents.get(key)
        return work._agent(agent_id)

    async def run(self, agent: Agent, inputs: JsonObject) -> Any:
        work = self.work
        executor = work.deps.executors.get(agent.type)
        config = agent.config
        if next(references_in(config), None) is not None:
            what = f"the config of agent {agent.name!r}"
            config = work._resolve(config, what, self.attempt, agent=agent)
        # The model's arguments are used as written: a reference in them is not resolved (a
        # model must not read the run's variables by writing {{env.NAME}}).
        async with work.deps.clock.timeout(float(agent.max_execution_time)):
            output = await work._execute(agent, executor, config, inputs, self.attempt.run)
        work._check_output(output)
        return output


async def checkpoint(work: StepWork, key: str, state: Any, line: LogLine | None) -> None:
    """Store ``state`` as the RUNNING step's output (secrets masked), with ``line``."""
    journal = work.journal
    current = work.state.runs[key]
    stored = journal.masker.json(state) if journal.masker else state
    run = replace(current, output=stored, updated_at=work.deps.clock.now())
    logs = []
    if line is not None:
        level, message, metadata = line
        logs.append(journal.line(level, message, run=run, metadata=metadata))
    await journal.commit(runs=[run], logs=logs)  # the journal records it in the run's state


async def suspend(work: StepWork, key: str) -> Any:
    """Wait until the step's stored state differs from what this attempt journaled last
    (``usecases.approvals`` wrote a decision), and return it. The runner is told the step
    waits until the run's deadline, so it parks the run when nothing else runs: the step is
    cancelled here and its next attempt starts from the stored state."""
    deps = work.deps
    execution = work.state.execution
    started = execution.started_at or deps.clock.now()
    if work.on_wait is not None:
        work.on_wait(key, started + timedelta(seconds=execution.timeout_seconds))
    while True:
        await deps.clock.sleep(SUSPEND_POLL)
        async with deps.uow() as uow:
            runs = await uow.step_runs.for_execution(execution.id)
        stored = next((run for run in runs if run.step_key == key), None)
        # What this attempt journaled last (its next checkpoint records what comes back).
        current = work.state.runs[key]
        if stored is not None and stored.output != current.output:
            return stored.output
