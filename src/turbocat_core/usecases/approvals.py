"""Approvals of tool calls an LLM agent's run waits for (docs/agents.md, "Approvals")."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from turbocat_core.domain.access import Actor
from turbocat_core.domain.approval import APPROVED, PENDING, REJECTED, approvals_of
from turbocat_core.domain.common import ExecutionId, JsonObject
from turbocat_core.domain.execution import ExecutionStatus, LogLevel
from turbocat_core.errors import InvalidState, NotFound
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.coordination import JobQueue
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.run_store import RunUnitOfWorkFactory
from turbocat_core.usecases.executions import log_line, visible_execution

MAX_COMMENT_CHARS: Final = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class DecideApproval:
    """Approve or reject a tool call a run waits for; the run goes on (queued at once when
    it parked, seen within a moment when its worker still holds it)."""

    uow: RunUnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    queue: JobQueue

    async def __call__(
        self,
        actor: Actor,
        execution_id: ExecutionId,
        call_id: str,
        *,
        approve: bool,
        comment: str | None = None,
    ) -> JsonObject:
        """The decision as recorded; ``NotFound`` for an execution the actor may not see or
        a call it does not wait for, ``InvalidState`` for a call already decided."""
        async with self.uow() as uow:
            execution = await visible_execution(uow, actor, execution_id)
            runs = await uow.step_runs.for_execution(execution.id)
            run = next((run for run in runs if call_id in approvals_of(run)), None)
            if run is None or execution.status is not ExecutionStatus.RUNNING:
                raise NotFound("approval", call_id)
            approvals = approvals_of(run)
            decision = approvals[call_id]
            if decision.get("status") != PENDING:
                raise InvalidState(f"tool call {call_id} was already {decision.get('status')}")
            now = self.clock.now()
            decided = {
                **decision,
                "status": APPROVED if approve else REJECTED,
                "comment": comment,
                "decidedBy": str(actor.user_id),
                "decidedAt": now.isoformat(),
            }
            output = {**run.output, "approvals": {**approvals, call_id: decided}}
            await uow.step_runs.save(replace(run, output=output, updated_at=now))
            verb = "approved" if approve else "rejected"
            await uow.logs.append(
                [
                    log_line(
                        self.ids,
                        self.clock,
                        execution.id,
                        LogLevel.INFO,
                        f"tool call {call_id} ({decision.get('tool')}) {verb}",
                        step_key=run.step_key,
                        workflow_step_id=run.step_id,
                        metadata={"approval": decided},
                    )
                ]
            )
            await uow.commit()
        await self.queue.enqueue_execution(execution.id)  # a parked run resumes now
        return decided
