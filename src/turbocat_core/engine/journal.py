"""The journal of one run: every transition and log line, committed through the unit of work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from turbocat_core.domain.common import AgentId, JsonObject, LogId
from turbocat_core.domain.execution import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogLevel,
    StepRun,
    StepStatus,
)
from turbocat_core.engine.deps import EngineDeps
from turbocat_core.engine.masking import Masker
from turbocat_core.engine.observer import NO_SCOPE, RunScope
from turbocat_core.engine.state import RunState

Transition = tuple[StepRun, ExecutionLog]
"""A step's next state and the log line saying so."""

CRASHED: Final = "the process running it stopped before it finished"
"""Why a processing failed when it recorded no reason (engine/processing.py)."""


class Tally:
    """Agent runs made by one attempt, folded into the agents' counters when it is recorded."""

    __slots__ = ("by_agent",)

    def __init__(self) -> None:
        self.by_agent: dict[AgentId, list[float]] = {}  # [succeeded, failed, total ms]

    def add(self, agent_id: AgentId, ok: bool, duration_ms: float) -> None:
        counts = self.by_agent.setdefault(agent_id, [0, 0, 0.0])
        counts[0 if ok else 1] += 1
        counts[2] += duration_ms


class Journal:
    """Writes one execution's history: the only writer of that execution while it runs, in
    the store and in its ``RunState``."""

    def __init__(
        self,
        deps: EngineDeps,
        state: RunState,
        env: Mapping[str, str],
        *,
        parked: bool = False,
        scope: RunScope = NO_SCOPE,
    ) -> None:
        self.deps = deps
        self.state = state
        self.scope = scope  # what this processing tells the engine's observer
        self.parked = parked  # resumed after parking on a long WAIT, not after a failure
        self.masker = Masker(env.values())
        self.completed = state.execution.steps_completed
        self.failed = state.execution.steps_failed
        self._staged: list[Transition] = []  # for the next flush()

    # --- log lines -----------------------------------------------------------------------

    def line(
        self,
        level: LogLevel,
        message: str,
        *,
        run: StepRun | None = None,
        metadata: JsonObject | None = None,
        attempt: int | None = None,
        timing: tuple[Any, Any, float | None] | None = None,
    ) -> ExecutionLog:
        """A log line with secrets masked (the store numbers it). ``timing`` = (start, end, ms)."""
        now = self.deps.clock.now()
        started, completed, duration = timing if timing is not None else (None, None, None)
        if self.masker:
            message = self.masker.text(message)
            metadata = self.masker.json(metadata) if metadata else metadata
        return ExecutionLog(
            id=LogId(self.deps.ids.new_id()),
            created_at=now,
            updated_at=now,
            execution_id=self.state.execution.id,
            level=level,
            message=message,
            workflow_step_id=run.step_id if run is not None else None,
            step_key=run.step_key if run is not None else None,
            metadata=metadata or {},
            step_status=run.status if run is not None else None,
            step_started_at=started,
            step_completed_at=completed,
            step_duration_ms=duration,
            attempt=attempt if attempt is not None else (run.attempt if run is not None else None),
        )

    def mask(self, text: str) -> str:
        return self.masker.text(text) if self.masker else text

    # --- commits -------------------------------------------------------------------------

    def stage(self, transition: Transition) -> None:
        """Record a step's transition now; store it with the next :meth:`flush`."""
        self.state.record(transition[0])
        self._staged.append(transition)

    @property
    def staged(self) -> bool:
        """Whether transitions wait for the next :meth:`flush`."""
        return bool(self._staged)

    async def flush(self) -> None:
        """Store the staged transitions in one transaction."""
        if self._staged:
            staged, self._staged = self._staged, []
            await self._store([run for run, _ in staged], [line for _, line in staged])

    async def commit(
        self, *, runs: Sequence[StepRun] = (), logs: Sequence[ExecutionLog] = ()
    ) -> None:
        """Record step states, and store them with their log lines in one transaction."""
        for run in runs:
            self.state.record(run)
        await self._store(runs, logs)

    async def _store(self, runs: Sequence[StepRun], logs: Sequence[ExecutionLog]) -> None:
        """Step states, their log lines and the step counters, in one transaction."""
        completed = failed = 0
        for run in runs:
            if run.status is StepStatus.COMPLETED:
                completed += 1
            elif run.status is StepStatus.FAILED:
                failed += 1
        # All or nothing anyway: the store may batch the block's writes.
        async with self.deps.uow() as uow, uow.deferred():
            for run in runs:
                await uow.step_runs.save(run)
            if completed or failed:
                await uow.executions.add_step_counts(
                    self.state.execution.id, completed=completed, failed=failed
                )
            # Last: the one write whose result is read, so the others can go with it, and
            # the commit with the block's end.
            stored = await uow.logs.append(logs) if logs else []
            await uow.commit()
        self.completed += completed
        self.failed += failed
        self._announce(stored)

    def _announce(self, logs: Sequence[ExecutionLog]) -> None:
        listener = self.deps.on_log
        if listener is not None:
            for log in logs:
                listener(log)

    async def log(
        self, level: LogLevel, message: str, *, run: StepRun | None = None, **extra: Any
    ) -> None:
        """Commit a single log line."""
        await self.commit(logs=[self.line(level, message, run=run, **extra)])

    # --- the execution itself ----------------------------------------------------------

    async def start(self) -> Execution | None:
        """PENDING -> RUNNING (or note a resume); ``None`` if it was cancelled meanwhile."""
        execution = self.state.execution
        now = self.deps.clock.now()
        if execution.status is ExecutionStatus.PENDING:
            running = execution.moved_to(ExecutionStatus.RUNNING, now)
            line = self.line(LogLevel.INFO, f"execution started ({len(execution.steps)} steps)")
            async with self.deps.uow() as uow:
                if not await uow.executions.update_if(running, ExecutionStatus.PENDING):
                    await self._reload()
                    return None
                stored = await uow.logs.append([line])
                await uow.commit()
            self.state.moved(running)
            self._announce(stored)
            self.scope.started(running)
            return running
        self.scope.resumed(execution, after_wait=self.parked)
        if self.parked:
            await self.log(
                LogLevel.INFO, f"execution resumed after waiting ({self.completed} steps done)"
            )
        else:
            message = (
                f"execution resumed after an interruption ({self.completed} steps already done)"
            )
            if execution.recoveries:  # engine/processing.py
                times = "time" if execution.recoveries == 1 else "times"
                message += (
                    f"; its processing failed {execution.recoveries} {times} so far"
                    f" (last: {execution.last_failure or CRASHED});"
                    f" the run is stopped at {self.deps.settings.max_recoveries}"
                )
            await self.log(LogLevel.WARN, message)
        return execution

    async def _reload(self) -> None:
        async with self.deps.uow() as uow:
            current = await uow.executions.get(self.state.execution.id)
        if current is not None:
            self.state.moved(current)

    def remaining_seconds(self) -> float:
        """Seconds left of the run's timeout (counted from when it first started)."""
        execution = self.state.execution
        started = execution.started_at or self.deps.clock.now()
        spent = (self.deps.clock.now() - started).total_seconds()
        return execution.timeout_seconds - spent

    async def finish(self, status: ExecutionStatus, message: str | None, tally: Tally) -> Execution:
        """Move RUNNING -> ``status`` unless someone else finished it first (e.g. a cancel).

        The agents' counters get this run's agent calls either way (they did run).
        """
        now = self.deps.clock.now()
        outputs = {
            key: run.output
            for key, run in self.state.runs.items()
            if run.status is StepStatus.COMPLETED
        }
        current = self.state.execution
        final = current.moved_to(
            status,
            now,
            output_data=outputs,
            error_message=self.mask(message) if message else None,
            steps_completed=self.completed,
            steps_failed=self.failed,
        )
        level = LogLevel.INFO if status is ExecutionStatus.COMPLETED else LogLevel.ERROR
        if status is ExecutionStatus.CANCELLED:
            level = LogLevel.WARN
        text = f"execution {status.lower()} in {final.duration_ms or 0:.0f} ms"
        line = self.line(level, f"{text}: {message}" if message else text)
        async with self.deps.uow() as uow:
            for agent_id, (ok, bad, total_ms) in tally.by_agent.items():
                await uow.agents.record_runs(
                    agent_id, succeeded=int(ok), failed=int(bad), total_ms=total_ms, now=now
                )
            stored: list[ExecutionLog] = []
            if not await uow.executions.update_if(final, current.status):
                finished = None
            else:
                stored = await uow.logs.append([line])
                await uow.workflows.record_run(
                    final.workflow_id,
                    succeeded=status is ExecutionStatus.COMPLETED,
                    duration_ms=final.duration_ms or 0.0,
                    now=now,
                )
                finished = final
            await uow.commit()
        if finished is None:
            await self._reload()
            return self.state.execution
        self.state.moved(finished)
        self._announce(stored)
        self.scope.finished(finished)
        return finished
