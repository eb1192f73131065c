"""What is particular to the in-memory store: its internals, guards and copying helpers."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import replace

import pytest

from tests.contracts import factories as make
from tests.contracts.factories import at
from tests.contracts.parents import ensure_parents
from turbocat_adapters.memory import MemoryStore, MemoryUnitOfWork
from turbocat_adapters.memory.copying import clone, copy_json
from turbocat_core import ports
from turbocat_core.domain.execution import ExecutionStatus
from turbocat_core.errors import Conflict
from turbocat_core.ports import PruneCount


async def parents_of(store: MemoryStore, *rows: object) -> None:
    """Commit the parent rows ``rows`` name (the store enforces foreign keys)."""
    async with store.unit_of_work() as uow:
        for row in rows:
            await ensure_parents(uow, row)
        await uow.commit()


async def test_soft_deleted_rows_stay_in_the_store():
    store = MemoryStore()
    agent = make.agent()
    await parents_of(store, agent)
    async with store.unit_of_work() as uow:
        await uow.agents.add(agent)
        await uow.agents.update(replace(agent, deleted_at=at(1)))
        await uow.commit()
    assert store.peek("agents", agent.id) == replace(agent, deleted_at=at(1))


async def test_the_store_is_a_unit_of_work_factory():
    factory: ports.UnitOfWorkFactory = MemoryStore().unit_of_work
    first, second = factory(), factory()
    assert isinstance(first, MemoryUnitOfWork)
    assert first is not second


async def test_repositories_refuse_use_outside_async_with():
    uow = MemoryStore().unit_of_work()
    with pytest.raises(RuntimeError):
        await uow.agents.get(make.agent().id)
    with pytest.raises(RuntimeError):
        await uow.commit()
    async with uow:
        with pytest.raises(RuntimeError):
            await uow.__aenter__()
    async with uow:  # a unit of work may be opened again once closed
        assert await uow.agents.get(make.agent().id) is None


async def test_an_update_that_lost_to_a_committed_delete_is_dropped():
    store = MemoryStore()
    agent = make.agent()
    await parents_of(store, agent)
    async with store.unit_of_work() as uow:
        await uow.agents.add(agent)
        await uow.commit()
    async with store.unit_of_work() as editor, store.unit_of_work() as deleter:
        await editor.agents.update(replace(agent, name="edited"))
        await deleter.agents.update(replace(agent, deleted_at=at(1)))
        await deleter.commit()
        await editor.commit()  # as if it had run before the delete: the row stays deleted
    assert store.peek("agents", agent.id).deleted_at == at(1)


async def test_a_log_writer_waiting_too_long_gets_a_conflict():
    store = MemoryStore(lock_timeout=0.05)
    execution = make.execution()
    await parents_of(store, execution)
    async with store.unit_of_work() as uow:
        await uow.executions.add(execution)
        await uow.commit()
    async with store.unit_of_work() as holder, store.unit_of_work() as waiter:
        await holder.logs.append([make.log_line(execution.id)])
        with pytest.raises(Conflict):
            await waiter.logs.append([make.log_line(execution.id)])
        assert await waiter.logs.last_seq(execution.id) == 0
    async with store.unit_of_work() as uow:  # the lock went with the holder's rollback
        stored = await uow.logs.append([make.log_line(execution.id)])
    assert stored[0].seq == 1


async def test_a_cancelled_log_writer_leaves_the_lock_queue_clean():
    store = MemoryStore()
    execution = make.execution()
    await parents_of(store, execution)
    async with store.unit_of_work() as uow:
        await uow.executions.add(execution)
        await uow.commit()
    async with store.unit_of_work() as holder:
        await holder.logs.append([make.log_line(execution.id)])

        async def wait_for_lock() -> None:
            async with store.unit_of_work() as uow:
                await uow.logs.append([make.log_line(execution.id)])

        task = asyncio.create_task(wait_for_lock())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await holder.commit()
    assert store.log_locks.owners == {}
    assert store.log_locks.waiters == {}


async def test_pruning_skips_executions_being_logged_and_locks_those_it_takes():
    """As PostgreSQL's ``FOR UPDATE SKIP LOCKED``: a held log lock makes prune pass the
    execution by; one it prunes is locked until it ends, so no line lands meanwhile."""
    store = MemoryStore(lock_timeout=0.05)
    busy, idle = (
        make.execution(status=ExecutionStatus.FAILED, completed_at=at(1)) for _ in range(2)
    )
    await parents_of(store, busy, idle)
    async with store.unit_of_work() as uow:
        for execution in (busy, idle):
            await uow.executions.add(execution)
        await uow.commit()
    cutoff = at(3600)
    async with store.unit_of_work() as writer, store.unit_of_work() as pruner:
        await writer.logs.append([make.log_line(busy.id)])
        pruned = await pruner.executions.prune_finished(cutoff, 10)
        assert pruned == PruneCount(executions=1)
        with pytest.raises(Conflict):  # idle is the pruner's until it ends
            await writer.logs.append([make.log_line(idle.id)])
        await pruner.commit()
        await writer.commit()
    assert store.peek("executions", idle.id) is None
    assert store.peek("executions", busy.id) is not None
    assert store.log_locks.owners == {}


def test_copy_json_rebuilds_containers_and_shares_scalars():
    nested = {"a": [1, {"b": (2, [3])}], "c": "text", "d": OrderedDict(x=1)}
    copied = copy_json(nested)
    assert copied == nested
    assert copied is not nested
    assert copied["a"] is not nested["a"]
    assert copied["a"][1]["b"][1] is not nested["a"][1]["b"][1]
    assert type(copied["d"]) is dict
    assert copied["c"] is nested["c"]


def test_clone_copies_json_fields_and_shares_immutable_ones():
    execution = make.execution()
    copied = clone(execution)
    assert copied == execution
    assert copied.input_data is not execution.input_data
    assert copied.input_data["v"][2] is not execution.input_data["v"][2]
    assert copied.steps is not execution.steps
    assert copied.steps[0].config is not execution.steps[0].config
    assert copied.id is execution.id
    assert copied.created_at is execution.created_at
