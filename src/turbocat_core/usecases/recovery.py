"""Runs that a stopped process left behind: hand them to the queue again."""

from __future__ import annotations

from dataclasses import dataclass

from turbocat_core.domain.common import ExecutionId, ListQuery, UserId
from turbocat_core.domain.execution import EXECUTION_QUERY, ExecutionStatus
from turbocat_core.ports.coordination import JobQueue
from turbocat_core.ports.run_store import RunUnitOfWorkFactory


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeInterrupted:
    """Queue every PENDING or RUNNING execution again, oldest first; how many.

    Only safe where nothing else may be running them: one server process over its own
    store (`turbocat serve` with one worker does this at start-up). The engine resumes a
    RUNNING one from its stored step states, unless its processing already failed
    ``EngineSettings.max_recoveries`` times (a run that kills its server each time): that
    one ends FAILED (``engine/processing.py``). Fleets use leases instead (the RQ workers).
    """

    uow: RunUnitOfWorkFactory
    queue: JobQueue
    owner: UserId | None = None
    """Given, only the executions this user started (an embedded runtime's own runs)."""

    async def __call__(self) -> int:
        found: list[ExecutionId] = []
        async with self.uow() as uow:
            for status in (ExecutionStatus.RUNNING, ExecutionStatus.PENDING):
                owned = {"status": status, "user_id": self.owner}
                page = 1
                while True:
                    query = ListQuery.build(
                        EXECUTION_QUERY,
                        page=page,
                        page_size=100,
                        sort_by="created_at",
                        sort_order="asc",
                        filters={"status": status} if self.owner is None else owned,
                    )
                    batch = await uow.executions.list(query)
                    found.extend(execution.id for execution in batch.items)
                    if not batch.has_next:
                        break
                    page += 1
        for execution_id in found:
            await self.queue.enqueue_execution(execution_id)
        return len(found)
