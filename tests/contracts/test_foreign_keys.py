"""Foreign keys and the built-in local owner, the same on every store (no stand-in parents)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.contracts import factories as make
from tests.contracts.factories import at
from tests.databases import STORE_KINDS, empty_store
from turbocat_adapters.store_contract import Store
from turbocat_core import ports
from turbocat_core.domain.execution import ExecutionStatus
from turbocat_core.domain.user import LOCAL_OWNER_EMAIL, LOCAL_OWNER_ID
from turbocat_core.errors import ValidationFailed


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store of each kind, its units of work NOT adding parents for the test."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with empty_store(request.param, tmp_path, dsn) as opened:
        yield opened


Write = Callable[[ports.UnitOfWork], Awaitable[Any]]


async def refused(store: Store, write: Write) -> None:
    """``write`` then commit is refused with ``ValidationFailed`` (at the write or at commit,
    as the store checks) and leaves nothing behind."""
    with pytest.raises(ValidationFailed):
        await committed(store, write)


async def committed(store: Store, write: Write) -> None:
    async with store.unit_of_work() as uow:
        await write(uow)
        await uow.commit()


async def owner_and_workflow(store: Store) -> tuple[Any, Any]:
    person = make.user()
    flow = make.workflow(person.id)

    async def write(uow: ports.UnitOfWork) -> None:
        await uow.users.add(person)
        await uow.workflows.add(flow)

    await committed(store, write)
    return person, flow


async def test_a_workflow_for_a_user_that_does_not_exist_is_refused(store: Store):
    flow = make.workflow()
    await refused(store, lambda uow: uow.workflows.add(flow))
    async with store.unit_of_work() as uow:
        assert await uow.workflows.get(flow.id) is None


async def test_an_agent_for_a_user_that_does_not_exist_is_refused(store: Store):
    await refused(store, lambda uow: uow.agents.add(make.agent()))


async def test_an_execution_for_a_missing_workflow_is_refused(store: Store):
    person, _ = await owner_and_workflow(store)
    execution = make.execution(owner=person.id)
    await refused(store, lambda uow: uow.executions.add(execution))
    async with store.unit_of_work() as uow:
        assert await uow.executions.get(execution.id) is None


async def test_a_step_run_for_a_missing_execution_is_refused(store: Store):
    await refused(store, lambda uow: uow.step_runs.save(make.step_run(make.execution().id)))


async def test_a_log_line_for_a_missing_execution_is_refused(store: Store):
    await refused(store, lambda uow: uow.logs.append([make.log_line(make.execution().id)]))


async def test_a_soft_deleted_parent_still_satisfies_the_key(store: Store):
    person, flow = await owner_and_workflow(store)
    await committed(store, lambda uow: uow.workflows.update(replace(flow, deleted_at=at(1))))
    execution = make.execution(flow.id, person.id)
    await committed(store, lambda uow: uow.executions.add(execution))


async def test_parents_written_first_in_the_same_transaction_are_accepted(store: Store):
    person = make.user()
    flow = make.workflow(person.id)
    execution = make.execution(flow.id, person.id)

    async def write(uow: ports.UnitOfWork) -> None:
        await uow.users.add(person)
        await uow.workflows.add(flow)
        await uow.executions.add(execution)
        await uow.step_runs.save(make.step_run(execution.id))
        await uow.logs.append([make.log_line(execution.id)])

    await committed(store, write)
    async with store.unit_of_work() as uow:
        assert list(await uow.step_runs.for_execution(execution.id))


async def test_pruning_an_execution_takes_its_children_and_cuts_references(store: Store):
    """The schema's ON DELETE: step runs and log lines CASCADE, ``retry_of`` SET NULL."""
    person, flow = await owner_and_workflow(store)
    old = make.execution(flow.id, person.id, status=ExecutionStatus.FAILED, completed_at=at(1))
    retry = make.execution(
        flow.id,
        person.id,
        status=ExecutionStatus.COMPLETED,
        completed_at=at(10**6),
        retry_of=old.id,
    )

    async def write(uow: ports.UnitOfWork) -> None:
        await uow.executions.add(old)
        await uow.executions.add(retry)
        await uow.step_runs.save(make.step_run(old.id))
        await uow.logs.append([make.log_line(old.id)])

    await committed(store, write)
    async with store.unit_of_work() as uow:
        pruned = await uow.executions.prune_finished(at(3600), 10)
        await uow.commit()
    assert (pruned.executions, pruned.step_runs, pruned.logs) == (1, 1, 1)
    async with store.unit_of_work() as uow:
        assert await uow.executions.get(old.id) is None
        assert not list(await uow.step_runs.for_execution(old.id))
        kept = await uow.executions.get(retry.id)
    assert kept is not None and kept.retry_of is None


async def test_the_local_owner_exists_cannot_log_in_and_owns_runs(store: Store):
    await store.migrate()  # again: idempotent
    async with store.unit_of_work() as uow:
        owner = await uow.users.get(LOCAL_OWNER_ID)
        assert owner is not None
        assert await uow.users.get_by_email(LOCAL_OWNER_EMAIL) == owner
    assert owner.email == LOCAL_OWNER_EMAIL and not owner.is_active
    assert not owner.password_hash.startswith("$2")  # no bcrypt hash: no password matches
    flow = make.workflow(LOCAL_OWNER_ID)
    execution = make.execution(flow.id, LOCAL_OWNER_ID)

    async def write(uow: ports.UnitOfWork) -> None:
        await uow.workflows.add(flow)
        await uow.executions.add(execution)

    await committed(store, write)
