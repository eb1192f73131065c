"""Contract of ``executions.prune_finished``: which executions go, with what, and what stays."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.contracts import factories as make
from tests.contracts.factories import T0
from turbocat_core import ports
from turbocat_core.domain.audit import AUDIT_QUERY
from turbocat_core.domain.common import ListQuery
from turbocat_core.domain.execution import Execution, ExecutionStatus, LogQuery, StepStatus
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports import PruneCount

S = ExecutionStatus
CUTOFF = T0 + timedelta(days=30)
OLD = T0 + timedelta(days=1)
RECENT = T0 + timedelta(days=40)


def finished(status: ExecutionStatus = S.COMPLETED, ended: Any = OLD, **fields: Any) -> Execution:
    started = fields.pop("started_at", OLD - timedelta(minutes=1))
    return make.execution(status=status, started_at=started, completed_at=ended, **fields)


async def seed(
    uow_factory: ports.UnitOfWorkFactory,
    *executions: Execution,
    lines: int = 0,
    runs: tuple[str, ...] = (),
) -> None:
    """Add the executions, each with ``lines`` log lines and a step run per key of ``runs``."""
    async with uow_factory() as uow:
        for execution in executions:
            await uow.executions.add(execution)
        for execution in executions:
            if lines:
                await uow.logs.append(
                    [make.log_line(execution.id, f"line {n}") for n in range(lines)]
                )
            for key in runs:
                await uow.step_runs.save(
                    make.step_run(execution.id, key, status=StepStatus.COMPLETED)
                )
        await uow.commit()


async def prune(uow_factory: ports.UnitOfWorkFactory, limit: int = 100) -> PruneCount:
    async with uow_factory() as uow:
        count = await uow.executions.prune_finished(CUTOFF, limit)
        await uow.commit()
    return count


async def present(uow: ports.UnitOfWork, execution: Execution) -> bool:
    return await uow.executions.get(execution.id) is not None


async def log_total(uow: ports.UnitOfWork, execution: Execution) -> int:
    return (await uow.logs.list(execution.id, LogQuery())).total


async def test_old_finished_executions_go_with_their_logs_and_step_runs(uow_factory):
    gone = [finished(status) for status in (S.COMPLETED, S.FAILED, S.CANCELLED, S.TIMEOUT)]
    gone.append(finished(S.FAILED, ended=None, created_at=OLD))  # no completion time: creation
    kept = [
        make.execution(status=S.PENDING, created_at=OLD),
        make.execution(status=S.RUNNING, created_at=OLD, started_at=OLD),
        finished(created_at=OLD, ended=RECENT),  # created long ago, finished lately
        finished(ended=CUTOFF),  # exactly at the cutoff: not older
        finished(S.FAILED, ended=None, created_at=RECENT),
    ]
    await seed(uow_factory, *gone, *kept, lines=3, runs=("a", "b"))
    entry = make.audit(action="execution.started", resource_id=str(gone[0].id), created_at=OLD)
    async with uow_factory() as uow:
        await uow.audit_logs.append(entry)
        await uow.commit()

    assert await prune(uow_factory) == PruneCount(executions=5, logs=15, step_runs=10)

    async with uow_factory() as uow:
        for execution in gone:
            assert not await present(uow, execution)
            assert await uow.executions.status_of(execution.id) is None
            assert await log_total(uow, execution) == 0
            assert await uow.logs.last_seq(execution.id) == 0
            assert await uow.step_runs.for_execution(execution.id) == []
        for execution in kept:
            assert await uow.executions.get(execution.id) == execution
            assert await log_total(uow, execution) == 3
            assert len(await uow.step_runs.for_execution(execution.id)) == 2
        audit = await uow.audit_logs.list(ListQuery.build(AUDIT_QUERY, sort_by="created_at"))
        assert [item.id for item in audit.items] == [entry.id]  # audit logs are kept
    assert await prune(uow_factory) == PruneCount()


async def test_a_retry_or_child_of_a_pruned_execution_stays_without_the_reference(uow_factory):
    origin, parent = finished(S.FAILED), finished()
    retry = finished(ended=RECENT, created_at=RECENT, retry_of=origin.id)
    child = finished(ended=RECENT, created_at=RECENT, parent_execution_id=parent.id)
    await seed(uow_factory, origin, parent, retry, child, lines=2, runs=("a",))
    async with uow_factory() as uow:
        reused = make.step_run(retry.id, "b", status=StepStatus.COMPLETED, reused_from=origin.id)
        await uow.step_runs.save(reused)
        await uow.commit()

    assert await prune(uow_factory) == PruneCount(executions=2, logs=4, step_runs=2)

    async with uow_factory() as uow:
        assert not await present(uow, origin)
        assert not await present(uow, parent)
        assert await uow.executions.get(retry.id) == replace(retry, retry_of=None)
        assert await uow.executions.get(child.id) == replace(child, parent_execution_id=None)
        runs = {run.step_key: run for run in await uow.step_runs.for_execution(retry.id)}
        assert runs["a"].reused_from is None
        # Still marked reused (analytics counts it apart), now naming its own execution.
        assert runs["b"] == replace(reused, reused_from=retry.id)
        assert await log_total(uow, retry) == 2


async def test_what_a_live_run_refers_to_stays_until_it_finishes(uow_factory):
    origin, parent = finished(S.FAILED), finished()
    retry = make.execution(status=S.RUNNING, created_at=OLD, started_at=OLD, retry_of=origin.id)
    child = make.execution(status=S.PENDING, created_at=OLD, parent_execution_id=parent.id)
    await seed(uow_factory, origin, parent, retry, child, lines=1)

    assert await prune(uow_factory) == PruneCount()

    async with uow_factory() as uow:
        done = replace(retry, status=S.COMPLETED, completed_at=RECENT)
        await uow.executions.update(done)
        await uow.commit()
    assert await prune(uow_factory) == PruneCount(executions=1, logs=1)
    async with uow_factory() as uow:
        assert not await present(uow, origin)
        assert await uow.executions.get(retry.id) == replace(done, retry_of=None)
        assert await present(uow, parent)
        assert await uow.executions.get(child.id) == child


async def test_the_limit_bounds_each_call(uow_factory):
    executions = [finished(created_at=OLD - timedelta(seconds=n)) for n in range(5)]
    await seed(uow_factory, *executions, lines=2)
    assert [(await prune(uow_factory, limit=2)).executions for _ in range(4)] == [2, 2, 1, 0]
    async with uow_factory() as uow:
        for execution in executions:
            assert not await present(uow, execution)
        with pytest.raises(ValidationFailed):
            await uow.executions.prune_finished(CUTOFF, 0)


async def test_nothing_goes_until_commit(uow_factory):
    old, retry = finished(), finished(ended=RECENT, created_at=RECENT)
    retry = replace(retry, retry_of=old.id)
    await seed(uow_factory, old, retry, lines=2, runs=("a",))
    async with uow_factory() as uow:
        count = await uow.executions.prune_finished(CUTOFF, 10)
        assert count == PruneCount(executions=1, logs=2, step_runs=1)
        # The transaction reads its own deletes...
        assert not await present(uow, old)
        assert await log_total(uow, old) == 0
        assert await uow.step_runs.for_execution(old.id) == []
        assert (await uow.executions.get(retry.id)).retry_of is None
        # ...and a second call finds nothing more.
        assert await uow.executions.prune_finished(CUTOFF, 10) == PruneCount()
    async with uow_factory() as uow:  # rolled back: everything is still there
        assert await uow.executions.get(old.id) == old
        assert await uow.executions.get(retry.id) == retry
        assert await log_total(uow, old) == 2
        assert len(await uow.step_runs.for_execution(old.id)) == 1
