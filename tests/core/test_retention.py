"""The retention use case over the in-memory store: batches, totals, the cutoff, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from tests.contracts.parents import ensure_parents
from turbocat_adapters.memory import ManualClock, MemoryStore
from turbocat_core.domain.common import ExecutionId, LogId, UserId, WorkflowId
from turbocat_core.domain.execution import Execution, ExecutionLog, ExecutionStatus, LogLevel
from turbocat_core.errors import ValidationFailed
from turbocat_core.usecases.retention import PruneExecutions, PruneReport

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=45)
FLOW, OWNER = WorkflowId(uuid4()), UserId(uuid4())


def execution(status: ExecutionStatus, ended: datetime | None, created: datetime) -> Execution:
    return Execution(
        id=ExecutionId(uuid4()),
        created_at=created,
        updated_at=ended or created,
        workflow_id=FLOW,
        user_id=OWNER,
        status=status,
        started_at=created,
        completed_at=ended,
    )


def line(execution_id: ExecutionId, n: int) -> ExecutionLog:
    return ExecutionLog(
        id=LogId(uuid4()),
        created_at=OLD,
        updated_at=OLD,
        execution_id=execution_id,
        level=LogLevel.INFO,
        message=f"line {n}",
    )


async def filled(old: int, *, lines: int = 2) -> tuple[MemoryStore, list[Execution]]:
    """``old`` finished executions from 45 days ago with ``lines`` lines each, plus three
    that stay: a recent one and two unfinished old ones."""
    store = MemoryStore()
    statuses = [ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT]
    doomed = [execution(statuses[n % 3], OLD, OLD - timedelta(seconds=n)) for n in range(old)]
    kept = [
        execution(ExecutionStatus.COMPLETED, NOW - timedelta(days=2), OLD),
        execution(ExecutionStatus.RUNNING, None, OLD),
        execution(ExecutionStatus.PENDING, None, OLD),
    ]
    async with store.unit_of_work() as uow:
        for item in doomed + kept:
            await ensure_parents(uow, item)
            await uow.executions.add(item)
            await uow.logs.append([line(item.id, n) for n in range(lines)])
        await uow.commit()
    return store, kept


def remaining(store: MemoryStore) -> int:
    return len(store.tables["executions"].rows)


async def test_batches_until_one_comes_back_short():
    store, kept = await filled(1_203)
    heard: list[PruneReport] = []
    prune = PruneExecutions(uow=store.unit_of_work, clock=ManualClock(NOW))

    report = await prune(days=30, batch_size=500, on_batch=heard.append)

    cutoff = NOW - timedelta(days=30)
    assert report == PruneReport(cutoff=cutoff, executions=1_203, logs=2_406, batches=3)
    assert [(r.batches, r.executions, r.logs) for r in heard] == [
        (1, 500, 1_000),
        (2, 1_000, 2_000),
        (3, 1_203, 2_406),
    ]
    assert remaining(store) == 3
    async with store.unit_of_work() as uow:
        for item in kept:
            assert await uow.executions.get(item.id) == item
    assert set(store.logs) == {item.id.int for item in kept}


async def test_a_last_empty_batch_ends_an_exact_multiple():
    store, _ = await filled(1_000, lines=0)
    prune = PruneExecutions(uow=store.unit_of_work, clock=ManualClock(NOW))
    report = await prune(days=30, batch_size=500)
    assert (report.executions, report.batches) == (1_000, 3)
    again = await prune(days=30, batch_size=500)
    assert (again.executions, again.batches) == (0, 1)


async def test_days_set_the_cutoff():
    store, _ = await filled(3)
    prune = PruneExecutions(uow=store.unit_of_work, clock=ManualClock(NOW))
    assert (await prune(days=60)).executions == 0  # 45 days old: kept for 60
    report = await prune(days=44)
    assert report.executions == 3 and report.cutoff == NOW - timedelta(days=44)


@pytest.mark.parametrize(
    ("days", "batch_size", "field"),
    [(0, 500, "days"), (-3, 500, "days"), (36_501, 500, "days"), (30, 0, "batch_size")],
)
async def test_bad_input_is_refused_before_anything_goes(days, batch_size, field):
    store, _ = await filled(2)
    prune = PruneExecutions(uow=store.unit_of_work, clock=ManualClock(NOW))
    with pytest.raises(ValidationFailed) as raised:
        await prune(days=days, batch_size=batch_size)
    assert raised.value.details[0].field == field
    assert remaining(store) == 5
