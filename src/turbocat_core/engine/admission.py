"""A workflow's ``concurrencyLimit``: which PENDING executions may start now, in order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Final

from turbocat_core.domain.common import ListQuery
from turbocat_core.domain.execution import EXECUTION_QUERY, Execution, ExecutionStatus
from turbocat_core.ports.coordination import Claims
from turbocat_core.ports.run_store import RunUnitOfWorkFactory

GATE_TTL: Final = 10.0
"""Seconds a process may hold a workflow's admission gate (it holds it for one decision)."""
GATE_PATIENCE: Final = 5.0
"""Seconds to wait for the gate before giving up this time (the run is queued again)."""


@contextlib.asynccontextmanager
async def admission_gate(claims: Claims, workflow_id: object, holder: str) -> AsyncIterator[bool]:
    """Hold the workflow's admission gate as ``holder`` (one decision at a time,
    fleet-wide); yields ``False`` if it could not be had within ``GATE_PATIENCE`` seconds."""
    name = f"admit:{workflow_id}"
    loop = asyncio.get_running_loop()
    give_up = loop.time() + GATE_PATIENCE
    pause = 0.005
    while not await claims.claim(name, holder, GATE_TTL):
        if loop.time() >= give_up:
            yield False
            return
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)
    try:
        yield True
    finally:
        await claims.release(name, holder)


async def may_start(uow: RunUnitOfWorkFactory, execution: Execution, limit: int) -> bool:
    """Whether ``execution`` (PENDING) may start under its workflow's ``limit``: fewer than
    ``limit`` executions of the workflow are RUNNING and it is among the oldest PENDING ones
    that fill the free places. Call it holding the gate, and start it before letting go."""
    by_workflow = {"workflow_id": execution.workflow_id}
    async with uow() as unit:
        running = await unit.executions.list(
            ListQuery.build(
                EXECUTION_QUERY,
                page_size=1,
                filters={**by_workflow, "status": ExecutionStatus.RUNNING},
            )
        )
        free = limit - running.total
        if free <= 0:
            return False
        first = await unit.executions.list(
            ListQuery.build(
                EXECUTION_QUERY,
                page_size=min(free, 100),
                sort_by="created_at",
                sort_order="asc",
                filters={**by_workflow, "status": ExecutionStatus.PENDING},
            )
        )
    return any(pending.id == execution.id for pending in first.items)


async def next_waiting(
    uow: RunUnitOfWorkFactory, execution: Execution, count: int
) -> list[Execution]:
    """The oldest ``count`` PENDING executions of ``execution``'s workflow."""
    async with uow() as unit:
        page = await unit.executions.list(
            ListQuery.build(
                EXECUTION_QUERY,
                page_size=max(1, min(count, 100)),
                sort_by="created_at",
                sort_order="asc",
                filters={"workflow_id": execution.workflow_id, "status": ExecutionStatus.PENDING},
            )
        )
    return list(page.items)
