"""Starting, cancelling and retrying executions (running them is the engine's job)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from turbocat_core.domain.access import Actor, require_owner, require_visible
from turbocat_core.domain.agent import RUNNABLE_AGENT_STATUSES
from turbocat_core.domain.common import (
    AgentId,
    DeploymentId,
    ExecutionId,
    JsonObject,
    ListQuery,
    LogId,
    Page,
    WorkflowId,
)
from turbocat_core.domain.execution import (
    RETRYABLE,
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogLevel,
    LogQuery,
    StepRun,
    StepStatus,
    TriggerType,
)
from turbocat_core.domain.workflow import Workflow, WorkflowStatus, WorkflowStep
from turbocat_core.engine.dag import Graph
from turbocat_core.engine.steps import agent_ids_of
from turbocat_core.engine.validation import AgentCheck, validate_steps
from turbocat_core.errors import InvalidState, NotFound
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.coordination import CancellationSignal, JobQueue
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.run_store import RunUnitOfWork, RunUnitOfWorkFactory
from turbocat_core.usecases.audit import audit, changed_fields

MAX_DEPTH = 5
EXECUTION_STARTED: Final = "execution.started"
EXECUTION_CANCELLED: Final = "execution.cancelled"
EXECUTION_RETRIED: Final = "execution.retried"


async def agent_checker(
    uow: RunUnitOfWork, owner: Any, steps: Sequence[WorkflowStep]
) -> AgentCheck:
    """Why each agent the steps use cannot be used by ``owner`` (loaded once, checked by id)."""
    problems: dict[AgentId, str | None] = {}
    for agent_id in agent_ids_of(steps):
        agent = await uow.agents.get(agent_id)
        if agent is None or (agent.user_id != owner and not agent.is_public):
            problems[agent_id] = f"agent {agent_id} does not exist"
        elif agent.status not in RUNNABLE_AGENT_STATUSES:
            problems[agent_id] = f"agent {agent.name!r} is {agent.status}"
        else:
            problems[agent_id] = None
    return lambda agent_id: problems.get(agent_id, f"agent {agent_id} does not exist")


def log_line(
    ids: IdGenerator,
    clock: Clock,
    execution_id: ExecutionId,
    level: LogLevel,
    message: str,
    **extra: Any,
) -> ExecutionLog:
    now = clock.now()
    return ExecutionLog(
        id=LogId(ids.new_id()),
        created_at=now,
        updated_at=now,
        execution_id=execution_id,
        level=level,
        message=message,
        **extra,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class StartExecution:
    """Create a PENDING execution of a workflow, pinned to its current steps, and queue it."""

    uow: RunUnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    queue: JobQueue

    async def __call__(
        self,
        actor: Actor,
        workflow_id: WorkflowId,
        *,
        inputs: JsonObject | None = None,
        metadata: JsonObject | None = None,
        trigger: TriggerType = TriggerType.MANUAL,
        trigger_data: JsonObject | None = None,
        parent: Execution | None = None,
        deployment_id: DeploymentId | None = None,
    ) -> Execution:
        """Raises ``NotFound`` (unknown or invisible workflow), ``InvalidState`` (not ACTIVE, no
        steps, nesting too deep) or ``ValidationFailed`` (its steps no longer validate)."""
        depth = parent.depth + 1 if parent is not None else 0
        if depth > MAX_DEPTH:
            raise InvalidState(f"workflows nest at most {MAX_DEPTH} levels deep")
        async with self.uow() as uow:
            workflow = await uow.workflows.get(workflow_id)
            if workflow is None:
                raise NotFound("workflow", workflow_id)
            require_owner(
                actor,
                "workflow",
                workflow.id,
                workflow.user_id,
                is_public=workflow.is_public,
                action="run",
            )
            if workflow.status is not WorkflowStatus.ACTIVE:
                raise InvalidState(f"only ACTIVE workflows run; this one is {workflow.status}")
            steps = await uow.steps.for_workflow(workflow.id)
            if not steps:
                raise InvalidState("the workflow has no steps")
            validate_steps(steps, await agent_checker(uow, workflow.user_id, steps))
            execution = replace(
                self._new(workflow, steps, actor, inputs, metadata, trigger, trigger_data),
                parent_execution_id=parent.id if parent is not None else None,
                depth=depth,
                deployment_id=deployment_id or (parent.deployment_id if parent else None),
            )
            await uow.executions.add(execution)
            await uow.logs.append(
                [
                    log_line(
                        self.ids,
                        self.clock,
                        execution.id,
                        LogLevel.INFO,
                        f"execution queued ({trigger}, workflow version {workflow.version})",
                    )
                ]
            )
            await audit(
                uow,
                self.clock,
                self.ids,
                EXECUTION_STARTED,
                user_id=actor.user_id,
                resource_type="execution",
                resource_id=execution.id,
                metadata={
                    "workflowId": str(workflow.id),
                    "trigger": trigger.value,
                    "workflowVersion": workflow.version,
                },
            )
            await uow.commit()
        await self.queue.enqueue_execution(execution.id)
        return execution

    def _new(
        self,
        workflow: Workflow,
        steps: Sequence[WorkflowStep],
        actor: Actor,
        inputs: JsonObject | None,
        metadata: JsonObject | None,
        trigger: TriggerType,
        trigger_data: JsonObject | None,
    ) -> Execution:
        now = self.clock.now()
        defaults = workflow.definition.get("inputs")
        merged = {**(defaults if isinstance(defaults, dict) else {}), **(inputs or {})}
        return Execution(
            id=ExecutionId(self.ids.new_id()),
            created_at=now,
            updated_at=now,
            workflow_id=workflow.id,
            user_id=actor.user_id,
            trigger_type=trigger,
            trigger_data=trigger_data or {},
            input_data=merged,
            metadata=metadata or {},
            steps_total=len(steps),
            workflow_version=workflow.version,
            steps=tuple(steps),
            timeout_seconds=workflow.timeout_seconds,
            max_concurrency=workflow.max_concurrency,
        )


async def visible_execution(
    uow: RunUnitOfWork, actor: Actor, execution_id: ExecutionId
) -> Execution:
    """The execution if the actor may see it, else ``NotFound``: the user who started it, the
    owner of its workflow, and ADMINs see it; for anyone else it does not exist."""
    execution = await uow.executions.get(execution_id)
    if execution is None:
        raise NotFound("execution", execution_id)
    if actor.is_admin or execution.user_id == actor.user_id:
        return execution
    workflow = await uow.workflows.get(execution.workflow_id)
    owner = workflow.user_id if workflow is not None else execution.user_id
    require_visible(actor, "execution", execution.id, owner)
    return execution


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelExecution:
    """Cancel a PENDING or RUNNING execution; whoever runs it stops within a second."""

    uow: RunUnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    cancellation: CancellationSignal
    queue: JobQueue | None = None
    """Given, a RUNNING execution is also queued once more: if no process runs it (parked
    on a long WAIT, its worker gone), that job ends its running steps at once."""

    async def __call__(self, actor: Actor, execution_id: ExecutionId) -> Execution:
        """The CANCELLED execution; ``InvalidState`` if it had already finished."""
        for _ in range(3):  # the runner may move it between our read and our write
            async with self.uow() as uow:
                execution = await visible_execution(uow, actor, execution_id)
                if execution.status.finished:
                    raise InvalidState(f"a {execution.status} execution cannot be cancelled")
                now = self.clock.now()
                cancelled = execution.moved_to(
                    ExecutionStatus.CANCELLED, now, error_message="execution was cancelled"
                )
                if not await uow.executions.update_if(cancelled, execution.status):
                    continue
                await uow.logs.append(
                    [
                        log_line(
                            self.ids,
                            self.clock,
                            execution.id,
                            LogLevel.WARN,
                            f"execution cancelled (it was {execution.status})",
                        )
                    ]
                )
                await uow.workflows.record_run(
                    execution.workflow_id,
                    succeeded=False,
                    duration_ms=cancelled.duration_ms or 0.0,
                    now=now,
                )
                await audit(
                    uow,
                    self.clock,
                    self.ids,
                    EXECUTION_CANCELLED,
                    user_id=actor.user_id,
                    resource_type="execution",
                    resource_id=execution.id,
                    changes=changed_fields(execution, cancelled, ["status"]),
                )
                await uow.commit()
            await self.cancellation.request(execution_id)
            if self.queue is not None and execution.status is ExecutionStatus.RUNNING:
                await self.queue.enqueue_execution(execution_id)
            return cancelled
        raise InvalidState("the execution changed state while being cancelled; try again")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryExecution:
    """Run a FAILED, CANCELLED or TIMEOUT execution again, reusing what already completed.

    A completed step is reused when its definition is unchanged and every step it depends
    on is reused too (so nothing downstream of a re-run step keeps a stale output).
    """

    uow: RunUnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    queue: JobQueue

    async def __call__(
        self,
        actor: Actor,
        execution_id: ExecutionId,
        *,
        from_start: bool = False,
        use_latest_version: bool = False,
    ) -> Execution:
        async with self.uow() as uow:
            old = await visible_execution(uow, actor, execution_id)
            if old.status not in RETRYABLE:
                raise InvalidState(f"a {old.status} execution cannot be retried")
            workflow = await uow.workflows.get(old.workflow_id)
            if workflow is None:
                raise NotFound("workflow", old.workflow_id)
            steps: Sequence[WorkflowStep] = old.steps
            version = old.workflow_version
            if use_latest_version:
                steps = await uow.steps.for_workflow(workflow.id)
                version = workflow.version
                if not steps:
                    raise InvalidState("the workflow has no steps")
            graph = validate_steps(steps, await agent_checker(uow, workflow.user_id, steps))
            now = self.clock.now()
            new = Execution(
                id=ExecutionId(self.ids.new_id()),
                created_at=now,
                updated_at=now,
                workflow_id=old.workflow_id,
                user_id=actor.user_id,
                trigger_type=old.trigger_type,
                trigger_data={**old.trigger_data, "retryOf": str(old.id)},
                input_data=old.input_data,
                metadata=old.metadata,
                steps_total=len(steps),
                workflow_version=version,
                steps=tuple(steps),
                timeout_seconds=old.timeout_seconds
                if not use_latest_version
                else workflow.timeout_seconds,
                max_concurrency=old.max_concurrency
                if not use_latest_version
                else workflow.max_concurrency,
                retry_of=old.id,
                parent_execution_id=old.parent_execution_id,
                depth=old.depth,
                deployment_id=old.deployment_id,
            )
            reused: list[StepRun] = []
            if not from_start:
                reused = self._reusable(
                    old, steps, graph, new.id, await uow.step_runs.for_execution(old.id)
                )
            new = replace(new, steps_completed=len(reused))
            await uow.executions.add(new)
            for run in reused:
                await uow.step_runs.save(run)
            lines = [
                log_line(
                    self.ids,
                    self.clock,
                    new.id,
                    LogLevel.INFO,
                    f"retry of execution {old.id}: {len(reused)} of {len(steps)} steps reused",
                )
            ]
            lines += [
                log_line(
                    self.ids,
                    self.clock,
                    new.id,
                    LogLevel.INFO,
                    f"step {run.step_key!r} reused the output of execution {run.reused_from}",
                    step_key=run.step_key,
                    workflow_step_id=run.step_id,
                    step_status=StepStatus.COMPLETED,
                    attempt=run.attempt,
                )
                for run in reused
            ]
            await uow.logs.append(lines)
            await audit(
                uow,
                self.clock,
                self.ids,
                EXECUTION_RETRIED,
                user_id=actor.user_id,
                resource_type="execution",
                resource_id=new.id,
                metadata={
                    "retryOf": str(old.id),
                    "fromStart": from_start,
                    "useLatestVersion": use_latest_version,
                    "reused": [run.step_key for run in reused],
                },
            )
            await uow.commit()
        await self.queue.enqueue_execution(new.id)
        return new

    def _reusable(
        self,
        old: Execution,
        steps: Sequence[WorkflowStep],
        graph: Graph,
        new_id: ExecutionId,
        old_runs: Sequence[StepRun],
    ) -> list[StepRun]:
        before = {step.step_key: step.definition() for step in old.steps}
        done = {run.step_key: run for run in old_runs if run.status is StepStatus.COMPLETED}
        by_key = {step.step_key: step for step in steps}
        reused: dict[str, StepRun] = {}
        now = self.clock.now()
        for key in graph.order:  # dependencies come first, so their verdict is known
            run = done.get(key)
            step = by_key[key]
            if (
                run is None
                or before.get(key) != step.definition()
                or any(dep not in reused for dep in graph.deps[key])
            ):
                continue
            reused[key] = StepRun(
                id=self.ids.new_id(),
                created_at=now,
                updated_at=now,
                execution_id=new_id,
                step_key=key,
                step_id=step.id,
                status=StepStatus.COMPLETED,
                attempt=run.attempt,
                output=run.output,
                started_at=run.started_at,
                completed_at=run.completed_at,
                duration_ms=run.duration_ms,
                reused_from=run.reused_from or old.id,
            )
        return list(reused.values())


# --- reading executions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionWithRuns(Execution):
    """An execution with the durable state of each of its steps (progress, reuse)."""

    step_runs: tuple[StepRun, ...] = ()

    @classmethod
    def of(cls, execution: Execution, runs: Sequence[StepRun]) -> ExecutionWithRuns:
        values = {f.name: getattr(execution, f.name) for f in fields(Execution)}
        order = {step.step_key: i for i, step in enumerate(execution.steps)}
        ordered = sorted(runs, key=lambda run: (order.get(run.step_key, len(order)), run.step_key))
        return cls(**values, step_runs=tuple(ordered))


@dataclass(frozen=True, slots=True, kw_only=True)
class GetExecution:
    uow: RunUnitOfWorkFactory

    async def __call__(self, actor: Actor, execution_id: ExecutionId) -> ExecutionWithRuns:
        """The execution, its pinned steps and its step states; ``NotFound`` if not visible."""
        async with self.uow() as uow:
            execution = await visible_execution(uow, actor, execution_id)
            runs = await uow.step_runs.for_execution(execution.id)
        return ExecutionWithRuns.of(execution, runs)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListExecutionLogs:
    uow: RunUnitOfWorkFactory

    async def __call__(
        self, actor: Actor, execution_id: ExecutionId, query: LogQuery
    ) -> Page[ExecutionLog]:
        """The execution's log lines in ``seq`` order, filtered and paged."""
        async with self.uow() as uow:
            await visible_execution(uow, actor, execution_id)
            return await uow.logs.list(execution_id, query)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListWorkflowExecutions:
    uow: RunUnitOfWorkFactory

    async def __call__(
        self, actor: Actor, workflow_id: WorkflowId, query: ListQuery
    ) -> Page[Execution]:
        """A workflow's executions: all of them for its owner and ADMINs; for another user
        who may see the (public) workflow, only the ones they started."""
        async with self.uow() as uow:
            workflow = await uow.workflows.get(workflow_id)
            if workflow is None:
                raise NotFound("workflow", workflow_id)
            require_visible(
                actor, "workflow", workflow.id, workflow.user_id, is_public=workflow.is_public
            )
            mine = actor.is_admin or workflow.user_id == actor.user_id
            query = replace(
                query,
                filters={**query.filters, "workflow_id": workflow.id},
                owner_id=None if mine else actor.user_id,
                include_public=False,
            )
            return await uow.executions.list(query)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListChildExecutions:
    uow: RunUnitOfWorkFactory

    async def __call__(
        self, actor: Actor, execution_id: ExecutionId, query: ListQuery
    ) -> Page[Execution]:
        """The child executions its WORKFLOW agents started (``parentExecutionId``): whoever
        may see the parent sees its children. ``NotFound`` if the parent is not visible."""
        async with self.uow() as uow:
            parent = await visible_execution(uow, actor, execution_id)
            query = replace(
                query,
                filters={**query.filters, "parent_execution_id": parent.id},
                owner_id=None,
                include_public=False,
            )
            return await uow.executions.list(query)


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """What a watcher has not seen yet: the execution now, and its next log lines.

    ``more``: further lines wait after these. ``settled``: once the execution has finished,
    nothing more will be written for it (a cancelled run's runner records its interrupted and
    skipped steps after the CANCELLED status; until then the run is not settled).
    """

    execution: Execution
    lines: list[ExecutionLog]
    more: bool
    settled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchExecution:
    """One look at an execution for a live stream: its state and the lines after a cursor."""

    uow: RunUnitOfWorkFactory

    async def __call__(
        self, actor: Actor, execution_id: ExecutionId, *, after_seq: int = 0, limit: int = 100
    ) -> Progress:
        async with self.uow() as uow:
            # The status first, then the step states, then the lines: whatever was committed
            # before the status (or the step states) we read is in the lines we read after.
            execution = await visible_execution(uow, actor, execution_id)
            settled = execution.status.finished
            if execution.status is ExecutionStatus.CANCELLED and execution.started_at is not None:
                runs = await uow.step_runs.for_execution(execution_id)
                done = {run.step_key for run in runs if run.status.finished}
                settled = all(step.step_key in done for step in execution.steps)
            page = await uow.logs.list(
                execution_id, LogQuery(after_seq=after_seq, page=1, page_size=limit)
            )
        return Progress(execution=execution, lines=page.items, more=page.has_next, settled=settled)
