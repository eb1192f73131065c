"""The WORKFLOW agent's executor: run another workflow of the same owner as a child execution.

``{"workflowId": id}`` starts that workflow as a child of the running execution (a normal
execution: ``parentExecutionId`` set, ``depth`` one more than its parent's, trigger
``EVENT`` with the parent in ``triggerData``), the step inputs as its inputs, and runs it to
the end in this process, with the same engine; the step's output is the child's
``outputData``. A child that fails, times out or is cancelled fails the step with the child's
id and error. If the step is interrupted (the parent is cancelled or times out, a sibling
fails, the step times out), the child is cancelled and ends CANCELLED. docs/engine.md
("Child workflows") has the rules.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from turbocat_core.agents.configs import check_workflow_config
from turbocat_core.agents.contract import ChildRuns, RunContext
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import ExecutionId, JsonObject, ListQuery, WorkflowId
from turbocat_core.domain.execution import (
    EXECUTION_QUERY,
    Execution,
    ExecutionStatus,
    LogLevel,
    TriggerType,
)
from turbocat_core.domain.user import UserRole
from turbocat_core.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed
from turbocat_core.usecases.executions import MAX_DEPTH, CancelExecution, StartExecution
from turbocat_core.usecases.running import ADMISSION_RETRY, LeaseHeld, LeaseLost, lease

if TYPE_CHECKING:
    from datetime import datetime

    from turbocat_core.ports.coordination import Claims

CHILD_TRIGGER: Final = TriggerType.EVENT
"""Children are started by an event (their parent's step); ``triggerData`` names it."""
STOP_GRACE: Final = 5.0
"""Seconds an interrupted step waits for its cancelled child to record its end."""


class _NotQueued:
    """The child runs here, inside its parent's step: nothing is handed to a queue."""

    async def enqueue_execution(
        self, execution_id: ExecutionId, *, at: datetime | None = None
    ) -> None:
        return None


class WorkflowAgent:
    """Runs WORKFLOW agents (docs/agents.md) as child executions, with the engine running the
    parent's step (``RunContext.children``): whoever builds the engine has nothing to bind."""

    def check_config(self, config: JsonObject) -> None:
        check_workflow_config(config)

    async def execute(
        self, agent: Agent, config: JsonObject, inputs: JsonObject, ctx: RunContext
    ) -> Any:
        runs = ctx.children
        if runs is None:
            raise AgentFailure(
                "WORKFLOW agents run only inside an execution (no engine runs this step)",
                retryable=False,
            )
        target = _workflow_id(config.get("workflowId"))
        if ctx.depth + 1 > MAX_DEPTH:
            raise AgentFailure(
                f"nesting deeper than {MAX_DEPTH} workflows: this execution is already "
                f"{ctx.depth} level(s) deep, so workflow {target} cannot run as its child",
                retryable=False,
            )
        actor = await _actor(runs, ctx)
        await self._cancel_stale(runs, actor, ctx)
        child = await self._start(runs, actor, ctx, target, inputs)
        task = asyncio.create_task(_run_child(runs, child.id), name=f"child-{child.id}")
        try:
            await ctx.log(
                LogLevel.INFO,
                f"child execution {child.id} of workflow {target} started (depth {child.depth})",
                {"childExecutionId": str(child.id), "workflowId": str(target)},
            )
            # ``wait`` (not ``await task``): being cancelled here must not cancel the child's
            # run abruptly (that would leave it RUNNING); it is cancelled properly below.
            await asyncio.wait([task])
        except asyncio.CancelledError:
            await _stop_child(runs, actor, child.id, task)
            raise
        return _outcome(task.result())

    async def _start(
        self,
        runs: ChildRuns,
        actor: Actor,
        ctx: RunContext,
        target: WorkflowId,
        inputs: JsonObject,
    ) -> Execution:
        async with runs.uow() as uow:
            parent = await uow.executions.get(ctx.execution_id)
        if parent is None:
            raise AgentFailure(f"execution {ctx.execution_id} no longer exists", retryable=False)
        start = StartExecution(uow=runs.uow, clock=runs.clock, ids=runs.ids, queue=_NotQueued())
        try:
            return await start(
                actor,
                target,
                inputs=dict(inputs),
                trigger=CHILD_TRIGGER,
                trigger_data={
                    "parentExecutionId": str(ctx.execution_id),
                    "parentWorkflowId": str(ctx.workflow_id),
                    "parentStepKey": ctx.step_key,
                    "parentAttempt": ctx.attempt,
                },
                parent=parent,
            )
        except NotFound:
            raise AgentFailure(
                f"workflow {target} does not exist (or was deleted)", retryable=False
            ) from None
        except PermissionDenied:
            raise AgentFailure(
                f"workflow {target} belongs to another user: a WORKFLOW agent runs only "
                "workflows of the user running it",
                retryable=False,
            ) from None
        except (InvalidState, ValidationFailed) as error:
            raise AgentFailure(
                f"workflow {target} cannot run: {error.message}", retryable=False
            ) from None

    async def _cancel_stale(self, runs: ChildRuns, actor: Actor, ctx: RunContext) -> None:
        """Cancel children an earlier attempt of this step left unfinished (its process died
        and the parent resumed): the new attempt starts its own child (at least once)."""
        if ctx.attempt <= 1:
            return
        children: list[Execution] = []
        page = 1
        while True:
            query = ListQuery.build(
                EXECUTION_QUERY,
                page=page,
                page_size=100,
                filters={"parent_execution_id": ctx.execution_id},
            )
            async with runs.uow() as uow:
                found = await uow.executions.list(query)
            children += found.items
            if not found.has_next:
                break
            page += 1
        for child in children:
            data = child.trigger_data
            earlier = data.get("parentAttempt")
            if (
                not child.status.finished
                and data.get("parentStepKey") == ctx.step_key
                and isinstance(earlier, int)
                and earlier < ctx.attempt
            ):
                with contextlib.suppress(InvalidState, NotFound):
                    await _canceller(runs)(actor, child.id)
                await ctx.log(
                    LogLevel.WARN,
                    f"cancelled child execution {child.id} left running by attempt {earlier}",
                    {"childExecutionId": str(child.id)},
                )


def _workflow_id(value: Any) -> WorkflowId:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return WorkflowId(UUID(value))
    raise AgentFailure(f"workflowId {value!r} is not a workflow id (a UUID)", retryable=False)


async def _actor(runs: ChildRuns, ctx: RunContext) -> Actor:
    """The user the parent runs for (children run for them too); ADMINs may run anyone's."""
    async with runs.uow() as uow:
        user = await uow.users.get(ctx.user_id)
    role = user.role if user is not None else UserRole.USER
    return Actor(user_id=ctx.user_id, role=role)


def _canceller(runs: ChildRuns) -> CancelExecution:
    return CancelExecution(
        uow=runs.uow, clock=runs.clock, ids=runs.ids, cancellation=runs.cancellation
    )


async def _run_child(runs: ChildRuns, child_id: ExecutionId) -> Execution:
    """Run the child to its end in this process, under its lease when the engine has claims
    (so a fleet's reaper does not hand it to another worker meanwhile)."""
    async with _lease(runs.claims, child_id, runs.ids.new_id().hex[-12:]):
        while True:
            child = await runs.run_once(child_id)
            if child is not None:
                return child
            # Held back by the child workflow's concurrencyLimit: try again shortly.
            await runs.clock.sleep(ADMISSION_RETRY)


@contextlib.asynccontextmanager
async def _lease(claims: Claims | None, child_id: ExecutionId, tag: str) -> AsyncIterator[None]:
    """Hold the child's lease (``usecases.running.lease``, as ``RunQueued`` does) while the
    block runs; another runner holding or taking it fails the step (retryable)."""
    if claims is None:
        yield
        return
    try:
        async with lease(claims, child_id, f"child:{tag}"):
            yield
    except LeaseHeld:
        raise AgentFailure(f"child execution {child_id} is run by another process") from None
    except LeaseLost:
        raise AgentFailure(
            f"lost the lease of child execution {child_id}: another process runs it"
        ) from None


async def _stop_child(
    runs: ChildRuns, actor: Actor, child_id: ExecutionId, task: asyncio.Task[Execution]
) -> None:
    """The step is interrupted: cancel the child (CANCELLED, its steps interrupted by its own
    run loop) and wait briefly for its run to record that."""
    with contextlib.suppress(InvalidState, NotFound):
        await _canceller(runs)(actor, child_id)
    done, _ = await asyncio.wait([task], timeout=STOP_GRACE)
    if not done:  # its run did not stop in time: stop it; a later run tidies its steps
        task.cancel()
        await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved: an error here is not the step's concern any more


def _outcome(child: Execution) -> Any:
    """The step's output, or the failure naming the child and its error."""
    if child.status is ExecutionStatus.COMPLETED:
        return child.output_data or {}
    why = f": {child.error_message}" if child.error_message else ""
    message = f"child execution {child.id} {child.status.lower()}{why}"
    if child.status is ExecutionStatus.TIMEOUT:
        raise AgentFailure(message, kind=FailureKind.TIMEOUT)
    if child.status is ExecutionStatus.FAILED:
        raise AgentFailure(message)
    if child.status is ExecutionStatus.CANCELLED:
        raise AgentFailure(message, retryable=False)  # someone chose to stop it
    raise AgentFailure(f"child execution {child.id} stopped while {child.status}")
