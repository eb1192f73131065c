"""What is particular to the PostgreSQL store: its pool, transactions, locks and error edge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime

import psycopg
import pytest

from tests.contracts import factories as make
from tests.databases import require_postgres, temporary_database
from turbocat_adapters.postgres import PostgresStore, PostgresUnitOfWork
from turbocat_adapters.postgres.store import PING_TIMEOUT
from turbocat_core import ports
from turbocat_core.domain.common import ListQuery
from turbocat_core.domain.execution import ExecutionStatus, LogQuery
from turbocat_core.domain.workflow import Workflow
from turbocat_core.errors import Conflict, ExternalServiceError, ValidationFailed

pytestmark = pytest.mark.slow  # PostgreSQL, and real lock and statement timeouts


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    """A migrated throwaway database of this module."""
    require_postgres()
    with temporary_database("turbocat_store") as dsn:

        async def migrate() -> None:
            await PostgresStore(dsn, max_size=1).migrate()

        asyncio.run(migrate())
        yield dsn


@pytest.fixture
async def store(dsn: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(dsn, max_size=4, lock_timeout=0.5)
    await store.open()
    yield store
    await store.close()


async def _workflow(store: PostgresStore) -> Workflow:
    person = make.user()
    flow = make.workflow(person.id)
    async with store.unit_of_work() as uow:
        await uow.users.add(person)
        await uow.workflows.add(flow)
        await uow.commit()
    return flow


async def _execution(store: PostgresStore):
    flow = await _workflow(store)
    execution = make.execution(flow.id, flow.user_id)
    async with store.unit_of_work() as uow:
        await uow.executions.add(execution)
        await uow.commit()
    return execution


async def _log_seq(dsn: str, execution_id) -> int:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cursor = await conn.execute("SELECT log_seq FROM executions WHERE id = %s", (execution_id,))
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


# --- the unit of work ---------------------------------------------------------------------


async def test_the_store_is_a_unit_of_work_factory(store):
    factory: ports.UnitOfWorkFactory = store.unit_of_work
    first, second = factory(), factory()
    assert isinstance(first, PostgresUnitOfWork)
    assert first is not second


async def test_repositories_refuse_use_outside_async_with(store):
    uow = store.unit_of_work()
    with pytest.raises(RuntimeError):
        await uow.agents.get(make.agent().id)
    with pytest.raises(RuntimeError):
        await uow.commit()
    async with uow:
        with pytest.raises(RuntimeError):
            await uow.__aenter__()
    async with uow:  # open again once closed
        assert await uow.agents.get(make.agent().id) is None


async def test_a_clean_exit_without_commit_writes_nothing_and_frees_the_connection(store):
    flow = await _workflow(store)
    async with store.unit_of_work() as uow:
        await uow.workflows.update(replace(flow, name="uncommitted"))
    # Back in the pool: the pool checks a returned connection (and may be growing) in the
    # background, so its figures can lag a moment behind on a loaded machine.
    for _ in range(100):
        stats = store.pool.get_stats()
        if stats["pool_size"] == stats["pool_available"]:
            break
        await asyncio.sleep(0.02)
    assert stats["pool_size"] == stats["pool_available"]
    async with store.unit_of_work() as uow:
        assert (await uow.workflows.get(flow.id)).name == flow.name


async def test_a_refused_write_undoes_only_itself(store):
    flow = await _workflow(store)
    first, second = make.step(flow.id, "a", agent_id=None), make.step(flow.id, "b", agent_id=None)
    async with store.unit_of_work() as uow:
        await uow.steps.add(first)
        with pytest.raises(Conflict):
            await uow.steps.add(replace(second, step_key="a"))
        await uow.steps.add(second)
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert [s.step_key for s in await uow.steps.for_workflow(flow.id)] == ["a", "b"]


async def test_times_come_back_aware_in_utc(store):
    flow = await _workflow(store)
    async with store.unit_of_work() as uow:
        read = await uow.workflows.get(flow.id)
    assert read.created_at == flow.created_at
    assert read.created_at.utcoffset() == UTC.utcoffset(None)


async def test_a_lock_held_beyond_lock_timeout_is_a_conflict(store):
    flow = await _workflow(store)
    async with store.unit_of_work() as holder, store.unit_of_work() as waiter:
        await holder.workflows.update(replace(flow, name="held"))
        started = time.monotonic()
        with pytest.raises(Conflict):
            await waiter.workflows.update(replace(flow, name="waited"))
        assert time.monotonic() - started < 2
        assert (await waiter.workflows.get(flow.id)).name == flow.name  # still usable


async def test_an_execution_update_if_waits_for_the_first_writer_then_sees_its_status(store):
    execution = await _execution(store)
    running = replace(execution, status=ExecutionStatus.RUNNING)
    cancelled = replace(execution, status=ExecutionStatus.CANCELLED)
    async with store.unit_of_work() as first, store.unit_of_work() as second:
        assert await first.executions.update_if(running, ExecutionStatus.PENDING)
        waiting = asyncio.create_task(
            second.executions.update_if(cancelled, ExecutionStatus.PENDING)
        )
        await asyncio.sleep(0.05)
        await first.commit()
        assert await waiting is False
    async with store.unit_of_work() as uow:
        assert await uow.executions.status_of(execution.id) is ExecutionStatus.RUNNING


# --- driver errors at the edge ------------------------------------------------------------


async def test_a_bad_filter_value_is_a_validation_failure_and_the_transaction_goes_on(store):
    async with store.unit_of_work() as uow:
        with pytest.raises(ValidationFailed):
            await uow.agents.list(ListQuery(filters={"is_public": "perhaps"}))
        assert (await uow.agents.list(ListQuery(filters={"user_id": "not-a-uuid"}))).total == 0
        assert await uow.agents.get(make.agent().id) is None


async def test_a_lost_connection_is_a_retryable_external_service_error(store, dsn):
    flow = await _workflow(store)
    async with store.unit_of_work() as uow:
        assert await uow.workflows.get(flow.id) is not None
        pid = uow._session.require().info.backend_pid  # this unit of work's own connection
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(ExternalServiceError) as lost:
            await uow.workflows.get(flow.id)
        assert lost.value.retryable
        assert lost.value.service == "postgres"
        assert not isinstance(lost.value.__cause__, psycopg.Error)
    async with store.unit_of_work() as uow:  # the pool replaced the broken connection
        assert await uow.workflows.get(flow.id) is not None


async def test_a_statement_over_the_statement_timeout_is_an_external_service_error(dsn):
    store = PostgresStore(dsn, max_size=2, lock_timeout=5, statement_timeout=0.2)
    await store.open()
    try:
        flow = await _workflow(store)
        async with store.unit_of_work() as holder, store.unit_of_work() as waiter:
            await holder.workflows.update(replace(flow, name="held"))
            with pytest.raises(ExternalServiceError):
                await waiter.workflows.update(replace(flow, name="waited"))
    finally:
        await store.close()


async def test_commit_of_an_aborted_transaction_is_refused(store, dsn):
    flow = await _workflow(store)
    slow = PostgresStore(dsn, max_size=1, lock_timeout=5, statement_timeout=0.2)
    await slow.open()
    try:
        async with store.unit_of_work() as holder, slow.unit_of_work() as uow:
            await holder.workflows.update(replace(flow, name="held"))
            added = make.workflow(flow.user_id)
            await uow.workflows.add(added)
            # A read that times out is not undone by a savepoint: the transaction aborts,
            # and its commit must not pass for a success.
            with pytest.raises(ExternalServiceError):
                await _read_for_update(uow, flow)
            with pytest.raises(ExternalServiceError, match="aborted"):
                await uow.commit()
        async with store.unit_of_work() as uow:
            assert await uow.workflows.get(added.id) is None
    finally:
        await slow.close()


async def _read_for_update(uow: PostgresUnitOfWork, flow: Workflow) -> None:
    """A read that waits on the row lock another transaction holds."""
    locking = "SELECT id FROM workflows WHERE id = :id FOR UPDATE"
    await uow.connection.fetch(locking, {"id": flow.id})


async def test_ping_answers_and_an_unreachable_server_fails_it_quickly(store):
    await store.ping()
    unreachable = PostgresStore("postgresql://postgres@127.0.0.1:1/turbocat")
    await unreachable.open()
    try:
        started = time.monotonic()
        with pytest.raises(ExternalServiceError) as failed:
            await unreachable.ping()
        assert time.monotonic() - started < PING_TIMEOUT + 1
        assert failed.value.service == "postgres"
    finally:
        await unreachable.close()


async def test_a_store_must_be_open_before_a_unit_of_work(dsn):
    store = PostgresStore(dsn)
    with pytest.raises(RuntimeError):
        async with store.unit_of_work():
            pass


# --- log numbering on the execution's row -------------------------------------------------


async def test_log_lines_take_their_numbers_from_the_executions_row(store, dsn):
    execution = await _execution(store)
    async with store.unit_of_work() as uow:
        stored = await uow.logs.append(
            [make.log_line(execution.id, "one"), make.log_line(execution.id, "two")]
        )
        await uow.commit()
    assert [line.seq for line in stored] == [1, 2]
    async with store.unit_of_work() as uow:
        await uow.logs.append([make.log_line(execution.id, "dropped")])  # rolled back
    async with store.unit_of_work() as uow:
        [three] = await uow.logs.append([make.log_line(execution.id, "three")])
        assert await uow.logs.last_seq(execution.id) == 3
        await uow.commit()
    assert three.seq == 3
    assert await _log_seq(dsn, execution.id) == 3


async def test_concurrent_log_writers_of_one_execution_queue_on_its_row(store):
    execution = await _execution(store)
    async with store.unit_of_work() as first, store.unit_of_work() as second:
        await first.logs.append([make.log_line(execution.id, "first")])
        waiting = asyncio.create_task(second.logs.append([make.log_line(execution.id, "2nd")]))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await first.commit()
        [line] = await waiting
        await second.commit()
    assert line.seq == 2
    async with store.unit_of_work() as uow:
        page = await uow.logs.list(execution.id, LogQuery())
    assert [(line.seq, line.message) for line in page.items] == [(1, "first"), (2, "2nd")]


async def test_a_refused_log_batch_takes_no_numbers(store, dsn):
    execution = await _execution(store)
    line = make.log_line(execution.id)
    async with store.unit_of_work() as uow:
        await uow.logs.append([line])
        with pytest.raises(Conflict):
            await uow.logs.append([make.log_line(execution.id), replace(line, message="again")])
        await uow.commit()
    assert await _log_seq(dsn, execution.id) == 1


async def test_prunes_take_turns_and_skip_executions_held_elsewhere(store):
    flow = await _workflow(store)
    ended, cutoff = datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 6, 1, tzinfo=UTC)
    failed = ExecutionStatus.FAILED
    held, *others = (
        make.execution(flow.id, flow.user_id, status=failed, created_at=ended, completed_at=ended)
        for _ in range(3)
    )
    async with store.unit_of_work() as uow:
        for execution in (held, *others):
            await uow.executions.add(execution)
        await uow.commit()

    async def prune() -> int:
        async with store.unit_of_work() as uow:
            count = await uow.executions.prune_finished(cutoff, 10)
            await uow.commit()
        return count.executions

    async with store.unit_of_work() as writer, store.unit_of_work() as first:
        await writer.logs.append([make.log_line(held.id)])  # holds its row until it ends
        assert (await first.executions.prune_finished(cutoff, 10)).executions == 2
        second = asyncio.create_task(prune())
        await asyncio.sleep(0.2)
        assert not second.done()  # one batch at a time, across processes too
        await first.commit()
        assert await second == 0  # the held one is skipped, not waited for
        await writer.commit()
    assert await prune() == 1


async def test_no_driver_error_escapes_as_such(store):
    flow = await _workflow(store)
    async with store.unit_of_work() as uow:
        with pytest.raises(Conflict):
            await uow.workflows.add(flow)  # a taken id
        with pytest.raises(ValidationFailed):  # out of range for a bigint as for an integer
            await uow.workflows.update(replace(flow, version=2**70))
        with pytest.raises(ValidationFailed):
            await uow.workflows.update(replace(flow, max_concurrency=2**40))
        assert (await uow.workflows.get(flow.id)).name == flow.name
