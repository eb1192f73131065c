"""The run loop: readiness, concurrency, skips, failure policy, timeouts and cancellation.

One ``Engine`` runs many executions. Each processing of one gets the engine's ports and
settings (``EngineDeps``, never the engine), a ``RunState`` (the execution and its step
runs), the ``Journal`` that alone writes that state and stores it, the ``StepWork`` that
runs steps' attempts, and the ``_Run`` loop that orders them. Every step transition is
committed through the unit of work before any step that depends on it starts, so a run
that dies can be resumed from its stored step states.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from turbocat_core.agents.contract import RunContext
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import AgentId, ExecutionId, UserId, utc_text
from turbocat_core.domain.execution import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogLevel,
    LogQuery,
    StepStatus,
)
from turbocat_core.domain.workflow import OnError, StepType, Workflow
from turbocat_core.engine import processing
from turbocat_core.engine.admission import admission_gate, may_start
from turbocat_core.engine.dag import Graph, branch_keys
from turbocat_core.engine.deps import EngineDeps, EnginePorts, EngineSettings
from turbocat_core.engine.env import NO_ENV, RunEnv
from turbocat_core.engine.journal import Journal, Transition
from turbocat_core.engine.masking import Masker
from turbocat_core.engine.observer import NO_OBSERVER, RunObserver
from turbocat_core.engine.state import RunState
from turbocat_core.engine.steps import StepWork, agent_ids_of
from turbocat_core.engine.validation import validate_steps
from turbocat_core.errors import NotFound, ValidationFailed
from turbocat_core.ports.coordination import Claims
from turbocat_core.ports.run_store import RunUnitOfWork

EnvProvider = Callable[[Execution], Awaitable[RunEnv]]
"""The secrets a run may reference as ``{{env.NAME}}`` (a deployment's variables), with
their owner: only that user's definitions may read them (``engine.env``)."""

_STOPPED_BY = {
    ExecutionStatus.FAILED: "interrupted: another step failed",
    ExecutionStatus.CANCELLED: "interrupted: the execution was cancelled",
    ExecutionStatus.TIMEOUT: "interrupted: the execution timed out",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """What one call of :meth:`Engine.run_once` did."""

    execution: Execution
    parked_until: datetime | None = None
    """Set when the run parked on a long WAIT: run it again at this time."""
    admitted: bool = True
    """``False``: still PENDING, held back by its workflow's ``concurrencyLimit``."""
    limit: int | None = None
    """The workflow's ``concurrencyLimit`` when the run began (``None``: no limit)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Engine(EnginePorts):
    """Runs executions with the ports it is given; safe to share between concurrent runs."""

    settings: EngineSettings = field(default_factory=EngineSettings)
    env_for: EnvProvider | None = None
    on_log: Callable[[ExecutionLog], None] | None = None
    """Told about every log line once it is committed (live progress displays)."""
    claims: Claims | None = None
    """Where a workflow's ``concurrencyLimit`` is decided (``None``: not enforced)."""
    observer: RunObserver = NO_OBSERVER
    """Told what happens to the runs (metrics, traces: ``engine.observer``)."""

    def _deps(self) -> EngineDeps:
        """What the parts of one processing use; agents get ``_ChildRuns`` of this engine in
        their context (the WORKFLOW agent runs child executions with it)."""
        return EngineDeps(
            uow=self.uow,
            clock=self.clock,
            ids=self.ids,
            random=self.random,
            executors=self.executors,
            cancellation=self.cancellation,
            settings=self.settings,
            context=partial(RunContext, children=_ChildRuns(self)),
            on_log=self.on_log,
        )

    async def run(self, execution_id: ExecutionId) -> Execution:
        """Run a PENDING execution, or resume a RUNNING one from its stored step states.

        A finished execution is returned unchanged, so running one twice is harmless.
        Raises ``NotFound`` for an unknown id. See :meth:`run_once` for parking and limits.
        """
        return (await self.run_once(execution_id)).execution

    async def run_once(self, execution_id: ExecutionId) -> RunResult:
        """:meth:`run`, telling the queue what is left to do: a run that parked on a long
        WAIT (``parked_until``), or one its workflow's ``concurrencyLimit`` holds back
        (``admitted=False``, still PENDING). This is the entry point of every runner
        (in-process queue, RQ worker, CLI).
        """
        token = self.ids.new_id().hex  # this processing (see engine/processing.py)
        async with self.uow() as uow:
            # Recorded (and the one before counted, if it never ended) before anything runs.
            execution = await uow.executions.begin_processing(execution_id, token)
            if execution is None:
                raise NotFound("execution", execution_id)
            runs = await uow.step_runs.for_execution(execution_id)
            workflow = await uow.workflows.get(execution.workflow_id)
            agents: dict[AgentId, Agent | None] = {}
            for agent_id in agent_ids_of(execution.steps):
                agents[agent_id] = await uow.agents.get(agent_id)
            parked = execution.status is ExecutionStatus.RUNNING and await _parked(uow, execution)
            await uow.commit()
        limit = workflow.concurrency_limit if workflow is not None else None
        deps = self._deps()
        if execution.status.finished:
            if any(not run.status.finished for run in runs):
                await _tidy(deps, RunState(execution, runs))
            return RunResult(execution=execution, limit=limit)
        scope = self.observer.processing(execution)
        if execution.recoveries >= self.settings.max_recoveries:
            final = await processing.give_up(deps, execution, runs, scope)
            self.cancellation.forget(execution_id)
            scope.ended()
            return RunResult(execution=final, limit=limit)
        masker = Masker(())
        try:
            env = await self.env_for(execution) if self.env_for is not None else NO_ENV
            masker = Masker(env.values.values())
            state = RunState(execution, runs)
            journal = Journal(deps, state, env.values, parked=parked, scope=scope)
            result = await self._process(deps, journal, workflow, agents, env)
        except asyncio.CancelledError as error:  # this process stops: the run is handed back
            scope.ended(error)
            await processing.end(self.uow, execution_id, token)
            raise
        except Exception as error:  # not a step's failure (those end the run, not raise)
            scope.ended(error)
            failure = processing.failure_of(error)
            await processing.end(self.uow, execution_id, token, masker.text(failure))
            raise
        scope.ended()
        if not result.execution.status.finished:  # parked, or held back by its limit
            await processing.end(self.uow, execution_id, token)
        return result

    async def _process(
        self,
        deps: EngineDeps,
        journal: Journal,
        workflow: Workflow | None,
        agents: Mapping[AgentId, Agent | None],
        env: RunEnv,
    ) -> RunResult:
        """One processing of an unfinished execution (see :meth:`run_once`)."""
        state = journal.state
        execution = state.execution
        limit = workflow.concurrency_limit if workflow is not None else None
        # The workflow's owner decides which agents the steps may call (their own and public
        # ones) and wrote the steps; an ADMIN running another user's workflow changes neither.
        owner = workflow.user_id if workflow is not None else execution.user_id
        author = workflow.user_id if workflow is not None else None
        run = _Run(deps, journal, agents, owner, env, author)
        try:
            if execution.status is ExecutionStatus.PENDING and limit and self.claims:
                holder = self.ids.new_id().hex
                async with admission_gate(self.claims, execution.workflow_id, holder) as held:
                    if not held or not await may_start(self.uow, execution, limit):
                        return RunResult(execution=execution, admitted=False, limit=limit)
                    if await journal.start() is None:
                        return RunResult(execution=state.execution, limit=limit)
                run.started = True
            final = await run.execute()
            return RunResult(execution=final, parked_until=run.parked_until, limit=limit)
        finally:
            if state.execution.status.finished:
                self.cancellation.forget(execution.id)


async def _tidy(deps: EngineDeps, state: RunState) -> None:
    """Steps a finished execution left RUNNING or PENDING (it was cancelled while no
    process ran it: parked, queued, or its worker died) end as the run would have ended
    them: running ones interrupted, the others not run."""
    execution = state.execution
    why = _STOPPED_BY.get(execution.status, "interrupted: the execution ended")
    journal = Journal(deps, state, {})
    work = StepWork(deps, journal, {}, execution.user_id, NO_ENV)
    transitions = [
        work.interrupt(key, why)
        if run.status is StepStatus.RUNNING
        else work.skip(key, why.replace("interrupted", "not run"))
        for key, run in state.runs.items()
        if not run.status.finished
    ]
    await journal.commit(
        runs=[run for run, _ in transitions], logs=[line for _, line in transitions]
    )


class _ChildRuns:
    """The ``ChildRuns`` an engine lends its steps' agents: its ports, and processings that
    sleep through WAITs (a child holds its parent's worker, so it never parks)."""

    __slots__ = ("_engine", "cancellation", "claims", "clock", "ids", "uow")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.uow = engine.uow
        self.clock = engine.clock
        self.ids = engine.ids
        self.cancellation = engine.cancellation
        self.claims = engine.claims

    async def run_once(self, execution_id: ExecutionId) -> Execution | None:
        engine = self._engine
        runner = replace(engine, settings=replace(engine.settings, park_waits_over=None))
        result = await runner.run_once(execution_id)
        return result.execution if result.admitted else None


async def _parked(uow: RunUnitOfWork, execution: Execution) -> bool:
    """Whether the run's last line says it parked (so resuming it is no interruption)."""
    last = await uow.logs.last_seq(execution.id)
    if last == 0:
        return False
    page = await uow.logs.list(execution.id, LogQuery(after_seq=last - 1, page_size=1))
    return bool(page.items) and page.items[0].message.startswith(PARKED_PREFIX)


class _Run:
    """The loop of one processing: which steps start, when, and how the run ends.

    The loop decides every step transition but a retry's next attempt (the step's own, it
    keeps running meanwhile), and stages it with the journal, which records it in the run
    state at once. Each round flushes, in one transaction, the steps that just finished, the
    skips they cause and the RUNNING state of the steps about to start; only then do those
    steps start. So every transition is stored before anything that depends on it runs, and
    a wide fan-out shares its commits.
    """

    def __init__(
        self,
        deps: EngineDeps,
        journal: Journal,
        agents: Mapping[AgentId, Agent | None],
        owner: UserId,
        env: RunEnv,
        author: UserId | None,
    ) -> None:
        self.deps = deps
        self.journal = journal
        self.state = journal.state
        self.work = StepWork(
            deps, journal, agents, owner, env, author=author, on_wait=self._waiting
        )
        self.graph: Graph | None = None
        self.order: dict[str, int] = {}
        self.skip_branch: dict[str, str] = {}  # step key -> why it is skipped
        self.waiting: dict[str, int] = {}
        self.decided: set[str] = set()  # steps queued, skipped or finished
        self.replaying = False
        self.runnable: list[tuple[int, str]] = []
        self.running: dict[asyncio.Task[Transition], str] = {}
        self.inline: str | None = None  # the step running without a task of its own
        self.failed_step: tuple[str, str] | None = None
        self.started = False  # journal.start() already done (under the admission gate)
        self.waits: dict[str, datetime] = {}  # WAIT steps waiting now -> until when
        self.parked_until: datetime | None = None
        self.stop: Callable[[Any], None] | None = None

    async def execute(self) -> Execution:
        state = self.state
        if not self.started and await self.journal.start() is None:
            return state.execution  # cancelled (or taken) before it could start
        try:
            self.graph = validate_steps(state.execution.steps)
        except ValidationFailed as error:
            return await self._finish(ExecutionStatus.FAILED, error.message)
        self.order = {key: i for i, key in enumerate(self.graph.order)}
        self._restore()
        cancelled = asyncio.ensure_future(self.deps.cancellation.wait(state.execution.id))
        try:
            outcome = await self._loop(cancelled)
        except BaseException:
            # The process is shutting down (or a bug): stop the steps, record nothing, so
            # the execution stays RUNNING and another runner resumes it.
            await self._stop_all(None)
            raise
        finally:
            cancelled.cancel()
        if outcome is _PARKED:
            await self._stop_all(None)
            assert self.parked_until is not None
            self.journal.scope.parked(self.parked_until)
            await self.journal.log(
                LogLevel.INFO,
                f"{PARKED_PREFIX}{utc_text(self.parked_until)} without holding a worker",
            )
            return state.execution
        assert isinstance(outcome, ExecutionStatus)
        if outcome is not ExecutionStatus.COMPLETED:
            await self._stop_all(outcome)
        message = None
        if outcome is ExecutionStatus.FAILED and self.failed_step is not None:
            key, why = self.failed_step
            message = f"step {key!r} failed: {why}"
        elif outcome is ExecutionStatus.TIMEOUT:
            message = f"execution exceeded its timeout of {state.execution.timeout_seconds:g} s"
        elif outcome is ExecutionStatus.CANCELLED:
            message = "execution was cancelled"
        return await self._finish(outcome, message)

    async def _finish(self, status: ExecutionStatus, message: str | None) -> Execution:
        return await self.journal.finish(status, message, self.work.tally)

    def _waiting(self, key: str, until: datetime) -> None:
        """A WAIT step began waiting: park the run if that is all there is to do."""
        self.waits[key] = until
        threshold = self.deps.settings.park_waits_over
        if threshold is None or self.stop is None or self.runnable or self.journal.staged:
            return
        busy = set(self.running.values())
        if self.inline is not None:
            busy.add(self.inline)
        if not busy or not busy <= self.waits.keys():
            return
        due = min(self.waits[k] for k in busy)
        execution = self.state.execution
        if execution.started_at is not None:  # no later than the run's own deadline
            due = min(due, execution.started_at + timedelta(seconds=execution.timeout_seconds))
        if (due - self.deps.clock.now()).total_seconds() > threshold:
            self.parked_until = due
            self.stop(_PARK)

    # --- readiness ---------------------------------------------------------------------

    def _restore(self) -> None:
        """Count unfinished dependencies; replay stored outcomes (resume, reused outputs)."""
        assert self.graph is not None
        self.waiting = {key: len(deps) for key, deps in self.graph.deps.items()}
        self.replaying = True
        runs = self.state.runs
        for key in self.graph.order:
            run = runs.get(key)
            if run is not None and run.status.finished:
                self._finished(key, run.status)
        self.replaying = False
        for key in self.graph.order:
            if self.waiting[key] == 0:
                self._became_ready(key)

    def _finished(self, key: str, status: StepStatus) -> None:
        """A step is done: decide its CONDITION's branches and wake its dependents."""
        assert self.graph is not None
        self.decided.add(key)
        step = self.state.steps[key]
        if step.step_type is StepType.CONDITION:
            on_true, on_false = branch_keys(step)
            run = self.state.runs.get(key)
            if status is StepStatus.COMPLETED and run is not None:
                result = isinstance(run.output, dict) and run.output.get("result") is True
                not_taken = on_false if result else on_true
                why = f"branch not taken by condition {key!r}"
            else:
                not_taken = on_true + on_false
                why = f"condition {key!r} was {status.lower()}"
            for branch_key in not_taken:
                self.skip_branch.setdefault(branch_key, why)
        for dependent in self.graph.dependents[key]:
            self.waiting[dependent] -= 1
            if self.waiting[dependent] == 0 and not self.replaying:
                self._became_ready(dependent)

    def _became_ready(self, key: str) -> None:
        """All dependencies are done: queue the step, or skip it (docs/engine.md). Idempotent."""
        assert self.graph is not None
        if key in self.decided:
            return
        self.decided.add(key)
        deps = self.graph.deps[key]
        why = self.skip_branch.get(key)
        if (
            why is None
            and deps
            and all(self.state.runs[dep].status is StepStatus.SKIPPED for dep in deps)
        ):
            why = "all of its dependencies were skipped"
        if why is None:
            heapq.heappush(self.runnable, (self.order[key], key))
            return
        self.journal.stage(self.work.skip(key, why))
        self._finished(key, StepStatus.SKIPPED)

    # --- the loop ----------------------------------------------------------------------

    async def _loop(self, cancelled: asyncio.Future[None]) -> ExecutionStatus | object:
        # Finished tasks, the cancellation watcher and the deadline all report through one
        # queue, so each wake-up costs O(1) however many steps are running. When exactly one
        # step can run and none is running (a chain), it runs inline, without a task; then
        # cancellation and the deadline interrupt it by cancelling this task instead.
        finished: asyncio.Queue[Any] = asyncio.Queue()
        me = asyncio.current_task()
        assert me is not None
        stops: list[Any] = []

        def stop(reason: Any) -> None:
            if self.inline is None:
                finished.put_nowait(reason)
                return
            if not stops:  # cancel once: a second cancel would read as the process stopping
                me.cancel()
            stops.append(reason)

        self.stop = stop
        cancelled.add_done_callback(stop)
        remaining = max(0.0, self.journal.remaining_seconds())
        deadline = self.deps.clock.call_later(remaining, lambda: stop(_DEADLINE))
        limit = max(1, self.state.execution.max_concurrency)
        steps = self.state.steps
        clock = asyncio.get_running_loop().time
        yielded = clock()

        async def step_task(key: str) -> Transition:
            # Report straight from the task (a done-callback would cost one more loop turn).
            try:
                return await self.work.run_step(steps[key])
            finally:
                finished.put_nowait(asyncio.current_task())

        try:
            while True:
                starting: list[str] = []
                while self.runnable and len(self.running) + len(starting) < limit:
                    _, key = heapq.heappop(self.runnable)
                    starting.append(key)
                    self.journal.stage(self.work.start(key))
                await self.journal.flush()
                if clock() - yielded > _FAIR_SLICE:
                    # Steps that never wait (DATA) would otherwise hold the event loop for the
                    # whole chain: let other work (a cancel, other runs, requests) in.
                    await asyncio.sleep(0)
                    yielded = clock()
                alone = len(starting) == 1 and not self.running and not self.runnable
                if alone and finished.empty():  # (a stop may have come during the commit)
                    self.inline = starting[0]
                    try:
                        transition = await self.work.run_step(steps[self.inline])
                    except asyncio.CancelledError:
                        if not stops or me.uncancel() > 0:
                            raise  # not ours: the process is stopping
                        if stops[0] is _DEADLINE:
                            return ExecutionStatus.TIMEOUT
                        if stops[0] is _PARK:
                            return _PARKED
                        return ExecutionStatus.CANCELLED
                    self.inline = None
                    failed = self._take(transition)
                else:
                    for key in starting:
                        self.running[asyncio.create_task(step_task(key), name=key)] = key
                    if not self.running:
                        return ExecutionStatus.COMPLETED
                    done = [await finished.get()]
                    while not finished.empty():
                        done.append(finished.get_nowait())
                    if cancelled in done:
                        return ExecutionStatus.CANCELLED
                    if _DEADLINE in done:
                        return ExecutionStatus.TIMEOUT
                    if _PARK in done:
                        return _PARKED
                    failed = await self._collect(done)
                if failed is not None:
                    await self.journal.flush()
                    self.failed_step = (failed, self.state.runs[failed].error or "failed")
                    return ExecutionStatus.FAILED
        finally:
            self.stop = None
            deadline.cancel()

    async def _collect(self, done: list[Any]) -> str | None:
        """Take the results of finished steps; the first FAIL-policy failure, if any."""
        failed = None
        tasks: list[asyncio.Task[Transition]] = done
        for task in sorted(tasks, key=lambda t: self.order[self.running[t]]):
            del self.running[task]
            failing = self._take(await task)  # it reported from its finally: it is returning
            if failed is None:
                failed = failing
        return failed

    def _take(self, transition: Transition) -> str | None:
        """Record a finished step; its key if it fails the execution."""
        run, _ = transition
        key = run.step_key
        self.waits.pop(key, None)
        self.journal.stage(transition)
        self._finished(key, run.status)
        on_error = self.state.steps[key].on_error
        if run.status is StepStatus.FAILED and on_error is not OnError.CONTINUE:
            return key
        return None

    async def _stop_all(self, reason: ExecutionStatus | None) -> None:
        """Interrupt running steps; with a reason, record them FAILED and the rest SKIPPED."""
        tasks = list(self.running)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if reason is None:
            self.running.clear()
            self.inline = None
            return
        why = _STOPPED_BY[reason]
        stage = self.journal.stage
        if self.inline is not None:
            stage(self.work.interrupt(self.inline, why))
            self.inline = None
        for task in sorted(tasks, key=lambda t: self.order[self.running[t]]):
            key = self.running.pop(task)
            if not task.cancelled() and task.exception() is None:
                stage(task.result())  # it finished just before being stopped
            else:
                stage(self.work.interrupt(key, why))
        for key in self.graph.order if self.graph else ():
            run = self.state.runs.get(key)
            if run is None or not run.status.finished:
                stage(self.work.skip(key, why.replace("interrupted", "not run")))
        await self.journal.flush()


_DEADLINE = object()
PARKED_PREFIX = "waiting until "
_PARK = object()  # a stop: every running step is a long WAIT
_PARKED = object()  # the loop's outcome then
_FAIR_SLICE = 0.002  # seconds a run may hold the event loop before it yields
