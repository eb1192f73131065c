"""One step of a run: its attempts and retries, and what each of the five step types does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from turbocat_core.agents.contract import AgentExecutor
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.domain.agent import RUNNABLE_AGENT_STATUSES, Agent
from turbocat_core.domain.common import AgentId, JsonObject, UserId, elapsed_ms
from turbocat_core.domain.execution import LogLevel, StepRun, StepStatus
from turbocat_core.domain.workflow import StepType, WorkflowStep
from turbocat_core.engine.deps import EngineDeps
from turbocat_core.engine.env import RunEnv, refused_to_agent, refused_to_steps
from turbocat_core.engine.journal import Journal, Tally, Transition
from turbocat_core.engine.observer import (
    ATTEMPT_COMPLETED,
    ATTEMPT_FAILED,
    ATTEMPT_INTERRUPTED,
    ATTEMPT_RETRIED,
)
from turbocat_core.engine.predicates import evaluate
from turbocat_core.engine.refs import (
    MISSING,
    Budget,
    ResolvedTooLarge,
    references_in,
    resolve,
    walk,
)
from turbocat_core.engine.retry import backoff_ms, classify, should_retry
from turbocat_core.engine.validation import RESERVED_ROOTS, agent_ref, parse_instant

DEFAULT_MAX_ITERATIONS = 1000
_COMPACT = json.JSONEncoder(separators=(",", ":"))  # json.dumps with options builds one per call
_VARIABLE_ROOTS = frozenset({"inputs", "metadata", "env", "loop"})


def agent_ids_of(steps: Iterable[WorkflowStep]) -> list[AgentId]:
    """Every agent a set of steps may call (AGENT steps, LOOP and PARALLEL configs)."""
    found: dict[AgentId | None, None] = {}
    for step in steps:
        found.setdefault(step.agent_id, None)
        if step.step_type is StepType.LOOP:
            found.setdefault(agent_ref(step.config.get("agentId")), None)
        elif step.step_type is StepType.PARALLEL:
            branches = step.config.get("branches")
            for branch in branches.values() if isinstance(branches, dict) else ():
                if isinstance(branch, dict):
                    found.setdefault(agent_ref(branch.get("agentId")), None)
    return [key for key in found if key is not None]


@dataclass(slots=True)
class _Attempt:
    """One attempt of a step: its state, the references it could not resolve, and the
    budget every value it resolves is counted against."""

    run: StepRun
    budget: Budget
    warnings: list[str] = field(default_factory=list)


WaitListener = Callable[[str, datetime], None]
"""Told when a WAIT step starts waiting, and until when (the loop may park the run)."""


class StepWork:
    """Runs steps for one execution; the runner owns ordering, this owns a step's attempts.

    It reads the run's state and builds transitions; the journal records and stores them.
    """

    def __init__(
        self,
        deps: EngineDeps,
        journal: Journal,
        agents: Mapping[AgentId, Agent | None],
        owner: Any,
        env: RunEnv,
        *,
        author: UserId | None = None,
        on_wait: WaitListener | None = None,
    ) -> None:
        self.deps = deps
        self.journal = journal
        self.state = journal.state
        self.agents = agents
        self.owner = owner
        self.env = dict(env.values)
        # Whose the variables are, and so which definitions may read them (engine.env): the
        # agents of that user, and the steps when that user wrote them (``author``).
        self.secrets_owner = env.owner if env.owner is not None else owner
        self.steps_see_env = env.owner is None or author == env.owner
        self.tally = Tally()
        """Agent runs of this whole run, added to the agents' counters when it finishes."""
        self.templated: dict[AgentId, bool] = {}
        self.on_wait = on_wait

    # --- step state ----------------------------------------------------------------------

    def next_state(
        self,
        key: str,
        status: StepStatus,
        now: datetime,
        *,
        attempt: int,
        started_at: datetime | None,
        output: Any = None,
        error: str | None = None,
        completed: bool = False,
    ) -> StepRun:
        """The step's next stored state (built directly: this is the hottest path)."""
        state = self.state
        previous = state.runs.get(key)
        duration = None
        if completed and started_at is not None:
            duration = elapsed_ms(started_at, now)
        return StepRun(
            id=previous.id if previous is not None else self.deps.ids.new_id(),
            created_at=previous.created_at if previous is not None else now,
            updated_at=now,
            execution_id=state.execution.id,
            step_key=key,
            step_id=state.steps[key].id,
            status=status,
            attempt=attempt,
            output=output,
            error=error,
            started_at=started_at,
            completed_at=now if completed else None,
            duration_ms=duration,
        )

    def start(self, key: str) -> Transition:
        """The next attempt's RUNNING state and its log line (for the journal to record)."""
        previous = self.state.runs.get(key)
        now = self.deps.clock.now()
        attempt = previous.attempt + 1 if previous is not None else 1
        started = previous.started_at if previous is not None and previous.started_at else now
        run = self.next_state(key, StepStatus.RUNNING, now, attempt=attempt, started_at=started)
        return run, self.journal.line(LogLevel.INFO, f"step {key!r} started", run=run)

    def skip(self, key: str, why: str) -> Transition:
        previous = self.state.runs.get(key)
        run = self.next_state(
            key,
            StepStatus.SKIPPED,
            self.deps.clock.now(),
            attempt=previous.attempt if previous is not None else 0,
            started_at=None,
            completed=True,
        )
        return run, self.journal.line(LogLevel.INFO, f"step {key!r} skipped: {why}", run=run)

    def interrupt(self, key: str, reason: str) -> Transition:
        previous = self.state.runs[key]
        run = self.next_state(
            key,
            StepStatus.FAILED,
            self.deps.clock.now(),
            attempt=previous.attempt,
            started_at=previous.started_at,
            error=reason,
            completed=True,
        )
        return run, self.journal.line(LogLevel.WARN, f"step {key!r} {reason}", run=run)

    async def run_step(self, step: WorkflowStep) -> Transition:
        """Every attempt of a started step: its final state and line, for the caller to commit.

        Retries are recorded here (the failed attempt's WARN line, the next RUNNING state),
        since the step keeps running meanwhile.
        """
        clock = self.deps.clock
        key = step.step_key
        run = self.state.runs[key]
        scope = self.journal.scope
        agent = self.agents.get(step.agent_id) if step.agent_id is not None else None
        agent_type = agent.type.value if agent is not None else None
        while True:
            began = run.updated_at
            timeout = self._attempt_timeout(step)
            observed = scope.attempt(key, step.step_type.value, agent_type, run.attempt)
            try:
                if timeout is None:
                    output = await self._perform(step, run)
                else:
                    async with clock.timeout(timeout):
                        output = await self._perform(step, run)
                self._check_output(output)
            except Exception as error:
                failure = classify(error, timeout)
                ended = clock.now()
                message = self.journal.mask(failure.message)
                meta = {"errorKind": failure.kind.value}
                if should_retry(step, failure, run.attempt):
                    delay = backoff_ms(
                        step,
                        run.attempt,
                        self.deps.random.random(),
                        self.deps.settings.retry_jitter,
                    )
                    observed.ended(ATTEMPT_RETRIED, failure.kind.value)
                    scope.retry_scheduled(key, run.attempt, delay)
                    line = self.journal.line(
                        LogLevel.WARN,
                        f"step {key!r} attempt {run.attempt} failed: {message}; "
                        f"retrying in {delay:.0f} ms",
                        run=run,
                        metadata={**meta, "retryInMs": round(delay)},
                        timing=(began, ended, elapsed_ms(began, ended)),
                    )
                    await self.journal.commit(logs=[line])
                    await clock.sleep(delay / 1000)
                    run, started = self.start(key)
                    await self.journal.commit(runs=[run], logs=[started])
                    continue
                observed.ended(ATTEMPT_FAILED, failure.kind.value)
                return self._ended(
                    run,
                    StepStatus.FAILED,
                    began,
                    ended,
                    LogLevel.ERROR,
                    f"step {key!r} failed after {run.attempt} attempt(s): {message}",
                    error=message,
                    metadata=meta,
                )
            except BaseException:
                observed.ended(ATTEMPT_INTERRUPTED)
                raise
            observed.ended(ATTEMPT_COMPLETED)
            ended = clock.now()
            ms = elapsed_ms(began, ended)
            return self._ended(
                run,
                StepStatus.COMPLETED,
                began,
                ended,
                LogLevel.INFO,
                f"step {key!r} completed in {ms:.0f} ms",
                output=output,
            )

    def _ended(
        self,
        run: StepRun,
        status: StepStatus,
        began: datetime,
        ended: datetime,
        level: LogLevel,
        message: str,
        *,
        output: Any = None,
        error: str | None = None,
        metadata: JsonObject | None = None,
    ) -> Transition:
        """The final state of an attempt that ended, and its log line with the attempt's timing."""
        final = self.next_state(
            run.step_key,
            status,
            ended,
            attempt=run.attempt,
            started_at=run.started_at,
            output=output,
            error=error,
            completed=True,
        )
        timing = (began, ended, elapsed_ms(began, ended))
        return final, self.journal.line(level, message, run=final, metadata=metadata, timing=timing)

    def _attempt_timeout(self, step: WorkflowStep) -> float | None:
        if step.timeout_seconds is not None:
            return step.timeout_seconds
        if step.step_type is StepType.AGENT and step.agent_id is not None:
            agent = self.agents.get(step.agent_id)
            if agent is not None:
                return float(agent.max_execution_time)
        return None

    def _check_output(self, output: Any) -> None:
        try:
            encoded = _COMPACT.encode(output)
        except (TypeError, ValueError) as error:
            raise AgentFailure(f"step output is not JSON: {error}", retryable=False) from None
        limit = self.deps.settings.max_step_output_bytes
        if len(encoded) > limit:  # ensure_ascii: one character is one byte
            raise AgentFailure(
                f"step output is {len(encoded)} bytes, over the limit of {limit} bytes "
                "(TURBOCAT_MAX_STEP_OUTPUT_BYTES)",
                retryable=False,
            )

    # --- references ----------------------------------------------------------------------

    def _lookup(self, loop: JsonObject | None, refused: Callable[[str], Exception] | None) -> Any:
        """Paths to values; ``refused`` (when set) makes any ``env`` path fail the step."""
        execution = self.state.execution
        runs = self.state.runs

        def lookup(path: str) -> Any:
            head, _, rest = path.partition(".")
            if head == "inputs":
                root: Any = execution.input_data
            elif head == "metadata":
                root = execution.metadata
            elif head == "env":
                if refused is not None:
                    raise refused(path)
                root = self.env
            elif head == "loop":
                if loop is None:
                    return MISSING
                root = loop
            else:
                run = runs.get(head)
                if run is None or not run.status.finished:
                    return MISSING
                root = {"output": run.output, "error": run.error, "status": run.status.value}
            return walk(root, rest.split(".")) if rest else root

        return lookup

    def _handles(self, path: str) -> bool:
        root = path.partition(".")[0]
        return root in _VARIABLE_ROOTS or (root in self.state.steps and root not in RESERVED_ROOTS)

    def _resolve(
        self,
        value: Any,
        what: str,
        attempt: _Attempt,
        loop: JsonObject | None = None,
        *,
        agent: Agent | None = None,
    ) -> Any:
        """``value`` with its references filled in, counted against the attempt's budget; a
        non-retryable failure naming the step, ``what`` and the limit past it. With ``agent``,
        that agent's config (``env`` only for the variables' owner's own agents)."""
        refused: Callable[[str], Exception] | None
        if agent is None:
            refused = None if self.steps_see_env else refused_to_steps
        elif agent.user_id == self.secrets_owner:
            refused = None
        else:
            refused = partial(refused_to_agent, agent)
        try:
            return resolve(
                value,
                self._lookup(loop, refused),
                attempt.warnings.append,
                handles=self._handles if agent is not None else None,
                budget=attempt.budget,
            )
        except ResolvedTooLarge as error:
            raise AgentFailure(
                f"step {attempt.run.step_key!r}: references resolve to more than "
                f"{error.limit} bytes, stopped in {what} (TURBOCAT_MAX_RESOLVED_INPUT_BYTES); "
                "reference the parts the step needs rather than whole outputs many times",
                retryable=False,
            ) from None

    async def _warn_unresolved(self, run: StepRun, warnings: list[str]) -> None:
        unique = list(dict.fromkeys(warnings))
        await self.journal.log(
            LogLevel.WARN,
            "unresolved reference(s) left as written: "
            + ", ".join("{{" + path + "}}" for path in unique),
            run=run,
            metadata={"references": unique},
        )

    # --- the step types ----------------------------------------------------------------

    async def _perform(self, step: WorkflowStep, run: StepRun) -> Any:
        attempt = _Attempt(run, Budget(self.deps.settings.max_resolved_input_bytes))
        try:
            if step.step_type is StepType.AGENT:
                return await self._call(step.agent_id, step.inputs, attempt, None)
            if step.step_type is StepType.CONDITION:
                condition = self._resolve(step.config.get("condition"), "its condition", attempt)
                return {"result": evaluate(condition)}
            if step.step_type is StepType.LOOP:
                return await self._loop(step, attempt)
            if step.step_type is StepType.PARALLEL:
                return await self._parallel(step, attempt)
            return await self._wait(step, attempt)
        finally:
            if attempt.warnings:  # rare; written even when the attempt failed or was interrupted
                await self._warn_unresolved(run, attempt.warnings)

    def _agent(self, reference: Any) -> Agent:
        agent_id = agent_ref(reference)
        agent = self.agents.get(agent_id) if agent_id is not None else None
        # One answer for a missing agent and another user's private one (never confirmed).
        if agent is None or (agent.user_id != self.owner and not agent.is_public):
            raise AgentFailure(
                f"agent {reference} is no longer available (it does not exist, was deleted, "
                "or its owner made it private)",
                retryable=False,
            )
        if agent.status not in RUNNABLE_AGENT_STATUSES:
            raise AgentFailure(
                f"agent {agent.name!r} is {agent.status} and cannot run", retryable=False
            )
        return agent

    async def _call(
        self, agent_id: Any, inputs: Any, attempt: _Attempt, loop: JsonObject | None
    ) -> Any:
        agent = self._agent(agent_id)
        executor = self.deps.executors.get(agent.type)
        config = agent.config
        templated = self.templated.get(agent.id)
        if (
            templated is None
        ):  # most configs hold no reference: walk them once per run, not per call
            templated = self.templated[agent.id] = next(references_in(config), None) is not None
        # What this call resolves is held until it returns: LOOP iterations and PARALLEL
        # branches running at once share the attempt's budget, and give theirs back when done.
        budget = attempt.budget
        held = budget.used
        if templated:
            what = f"the config of agent {agent.name!r}"
            config = self._resolve(config, what, attempt, loop, agent=agent)
        resolved = self._resolve(inputs or {}, "its inputs", attempt, loop)
        held = budget.used - held  # nothing else ran meanwhile: no await since
        try:
            return await self._execute(agent, executor, config, resolved, attempt.run)
        finally:
            budget.release(held)

    async def _execute(
        self,
        agent: Agent,
        executor: AgentExecutor,
        config: JsonObject,
        resolved: Any,
        run: StepRun,
    ) -> Any:
        """One agent run with its resolved config and inputs, counted in the run's tally."""
        if not isinstance(resolved, dict):
            raise AgentFailure("step inputs must be an object", retryable=False)
        execution = self.state.execution
        ctx = self.deps.context(
            execution_id=execution.id,
            workflow_id=execution.workflow_id,
            user_id=execution.user_id,
            step_key=run.step_key,
            attempt=run.attempt,
            depth=execution.depth,
            # Another user's agent never gets the variables, not even through its executor
            # (the LLM agent's key lookup would send OPENAI_API_KEY to its baseUrl).
            env=self.env if agent.user_id == self.secrets_owner else {},
            log=lambda level, message, metadata: self.journal.log(
                level, message, run=run, metadata=metadata
            ),
        )
        clock = self.deps.clock
        began = clock.monotonic()
        try:
            output = await executor.execute(agent, config, resolved, ctx)
        except Exception:
            self.tally.add(agent.id, False, (clock.monotonic() - began) * 1000)
            raise
        self.tally.add(agent.id, True, (clock.monotonic() - began) * 1000)
        return output

    async def _loop(self, step: WorkflowStep, attempt: _Attempt) -> Any:
        config = step.config
        items = self._resolve(config.get("items"), "its LOOP items", attempt)
        if not isinstance(items, list):
            raise AgentFailure(
                f"LOOP items must be a list, got {type(items).__name__}", retryable=False
            )
        limit = config.get("maxIterations", DEFAULT_MAX_ITERATIONS)
        if len(items) > limit:
            raise AgentFailure(
                f"LOOP has {len(items)} items, over its maxIterations of {limit}", retryable=False
            )
        gate = asyncio.Semaphore(config.get("concurrency", 1))
        results: list[Any] = [None] * len(items)

        async def one(index: int, item: Any) -> None:
            async with gate:
                loop = {"item": item, "index": index}
                try:
                    results[index] = await self._call(
                        config.get("agentId"), config.get("inputs", {}), attempt, loop
                    )
                except AgentFailure as error:
                    raise AgentFailure(
                        f"iteration {index} failed: {error.message}",
                        kind=error.kind,
                        retryable=error.retryable,
                    ) from None

        await _all_or_nothing(one(i, item) for i, item in enumerate(items))
        return results

    async def _parallel(self, step: WorkflowStep, attempt: _Attempt) -> Any:
        branches: dict[str, Any] = step.config.get("branches", {})
        results: dict[str, Any] = {}

        async def one(name: str, branch: dict[str, Any]) -> None:
            try:
                results[name] = await self._call(
                    branch.get("agentId"), branch.get("inputs", {}), attempt, None
                )
            except AgentFailure as error:
                raise AgentFailure(
                    f"branch {name!r} failed: {error.message}",
                    kind=error.kind,
                    retryable=error.retryable,
                ) from None

        await _all_or_nothing(one(name, branch) for name, branch in branches.items())
        return {name: results[name] for name in branches}

    async def _wait(self, step: WorkflowStep, attempt: _Attempt) -> Any:
        clock = self.deps.clock
        config = self._resolve(step.config, "its WAIT config", attempt)
        first = attempt.run.started_at or clock.now()
        if "until" in config:
            due = parse_instant(str(config["until"])) if isinstance(config["until"], str) else None
            if due is None:
                raise AgentFailure(
                    f"WAIT until {config['until']!r} is not an ISO 8601 time", retryable=False
                )
        else:
            duration = config.get("durationMs")
            if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
                raise AgentFailure(
                    f"WAIT durationMs {duration!r} is not a number >= 0", retryable=False
                )
            due = first + timedelta(milliseconds=duration)
        remaining = (due - clock.now()).total_seconds()
        if remaining > 0:
            if self.on_wait is not None:
                self.on_wait(step.step_key, due)
            await clock.sleep(remaining)
        return {"waitedMs": round(max(0.0, (clock.now() - first).total_seconds() * 1000))}


async def _all_or_nothing(jobs: Iterable[Any]) -> None:
    """Run coroutines together; on the first failure cancel the rest and raise that failure."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job)
    except BaseExceptionGroup as errors:
        first = errors.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
