"""Contract of the processing bookkeeping: which processing runs an execution, and how many
ended without finishing it (what bounds a run whose processing keeps failing)."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from tests.contracts import factories as make
from tests.contracts.factories import at
from tests.contracts.helpers import fetch, put
from turbocat_core.domain.execution import ExecutionStatus


async def begin(factory, execution_id, token):
    async with factory() as uow:
        begun = await uow.executions.begin_processing(execution_id, token)
        await uow.commit()
    return begun


async def end(factory, execution_id, token, failure=None):
    async with factory() as uow:
        await uow.executions.end_processing(execution_id, token, failure=failure)
        await uow.commit()


def bookkeeping(execution):
    return execution.recoveries, execution.processing, execution.last_failure


async def test_a_processing_that_never_ended_is_counted_by_the_next(uow_factory):
    execution = make.execution(status=ExecutionStatus.RUNNING)
    await put(uow_factory, "executions", execution)
    first = await begin(uow_factory, execution.id, "one")
    assert bookkeeping(first) == (0, "one", None)
    assert replace(first, processing=None) == execution  # nothing else changed
    # "one" never ended (its process died): "two" counts it, with no reason given.
    assert bookkeeping(await begin(uow_factory, execution.id, "two")) == (1, "two", None)
    await end(uow_factory, execution.id, "two", failure="database error \x00 P0001")
    assert bookkeeping(await fetch(uow_factory, "executions", execution.id)) == (
        1,
        "two",
        "database error \x00 P0001",
    )
    third = await begin(uow_factory, execution.id, "three")
    assert bookkeeping(third) == (2, "three", "database error \x00 P0001")
    # A hand-back (parked, held back, a worker stopping) counts nothing and clears the reason.
    await end(uow_factory, execution.id, "three")
    assert bookkeeping(await begin(uow_factory, execution.id, "four")) == (2, "four", None)


async def test_only_the_current_processing_can_end_itself(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)
    await begin(uow_factory, execution.id, "old")
    await begin(uow_factory, execution.id, "new")  # took over (the old lost its lease)
    await end(uow_factory, execution.id, "old")
    await end(uow_factory, execution.id, "old", failure="late")
    assert bookkeeping(await fetch(uow_factory, "executions", execution.id)) == (1, "new", None)


async def test_updates_keep_the_bookkeeping(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)
    await begin(uow_factory, execution.id, "a")
    begun = await begin(uow_factory, execution.id, "b")
    running = execution.moved_to(ExecutionStatus.RUNNING, at(1))  # the stale copy it had
    async with uow_factory() as uow:
        assert await uow.executions.update_if(running, ExecutionStatus.PENDING)
        await uow.commit()
    stored = await fetch(uow_factory, "executions", execution.id)
    assert stored.status is ExecutionStatus.RUNNING
    assert bookkeeping(stored) == bookkeeping(begun) == (1, "b", None)
    async with uow_factory() as uow:
        await uow.executions.update(replace(running, metadata={"x": 1}))
        await uow.commit()
    assert bookkeeping(await fetch(uow_factory, "executions", execution.id)) == (1, "b", None)


async def test_a_finished_or_unknown_execution_is_not_processed(uow_factory):
    done = make.execution(status=ExecutionStatus.COMPLETED)
    await put(uow_factory, "executions", done)
    assert await begin(uow_factory, done.id, "late") == done
    assert await begin(uow_factory, uuid4(), "nobody") is None


async def test_beginning_without_a_commit_leaves_nothing(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)
    await begin(uow_factory, execution.id, "a")
    async with uow_factory() as uow:
        seen = await uow.executions.begin_processing(execution.id, "b")
        assert bookkeeping(seen) == (1, "b", None)  # its own write, seen in its transaction
    assert bookkeeping(await fetch(uow_factory, "executions", execution.id)) == (0, "a", None)


async def test_a_new_execution_is_stored_with_its_bookkeeping(uow_factory):
    execution = make.execution(recoveries=2, processing="p", last_failure="why")
    await put(uow_factory, "executions", execution)
    assert await fetch(uow_factory, "executions", execution.id) == execution
