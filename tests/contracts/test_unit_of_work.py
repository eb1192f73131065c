"""Unit-of-work contract: commit, rollback, isolation, and races between transactions."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from tests.contracts import factories as make
from tests.contracts.factories import at
from tests.contracts.helpers import fetch, put, race
from turbocat_core.domain.common import ListQuery
from turbocat_core.domain.execution import ExecutionStatus
from turbocat_core.errors import Conflict


class Boom(Exception):
    pass


async def test_commit_makes_writes_visible(uow_factory):
    agent = make.agent()
    async with uow_factory() as uow:
        await uow.agents.add(agent)
        await uow.commit()
    assert await fetch(uow_factory, "agents", agent.id) == agent


async def test_leaving_without_commit_rolls_back(uow_factory):
    agent = make.agent()
    async with uow_factory() as uow:
        await uow.agents.add(agent)
    assert await fetch(uow_factory, "agents", agent.id) is None


async def test_an_exception_rolls_back(uow_factory):
    agent = make.agent()

    async def fail() -> None:
        async with uow_factory() as uow:
            await uow.agents.add(agent)
            raise Boom

    with pytest.raises(Boom):
        await fail()
    assert await fetch(uow_factory, "agents", agent.id) is None


async def test_rollback_discards_and_the_unit_of_work_goes_on(uow_factory):
    dropped, kept = make.agent(), make.agent()
    async with uow_factory() as uow:
        await uow.agents.add(dropped)
        await uow.rollback()
        assert await uow.agents.get(dropped.id) is None
        await uow.agents.add(kept)
        await uow.commit()
    assert await fetch(uow_factory, "agents", dropped.id) is None
    assert await fetch(uow_factory, "agents", kept.id) == kept


async def test_writes_after_a_commit_need_their_own_commit(uow_factory):
    first, second = make.agent(), make.agent()
    async with uow_factory() as uow:
        await uow.agents.add(first)
        await uow.commit()
        await uow.agents.add(second)
    assert await fetch(uow_factory, "agents", first.id) == first
    assert await fetch(uow_factory, "agents", second.id) is None


async def test_reads_inside_see_the_transactions_own_writes(uow_factory):
    kept, edited, deleted = make.agent(), make.agent(name="before"), make.agent()
    await put(uow_factory, "agents", edited, deleted)
    async with uow_factory() as uow:
        await uow.agents.add(kept)
        await uow.agents.update(replace(edited, name="after"))
        await uow.agents.update(replace(deleted, deleted_at=at(1)))
        assert await uow.agents.get(kept.id) == kept
        assert (await uow.agents.get(edited.id)).name == "after"
        assert await uow.agents.get(deleted.id) is None
        page = await uow.agents.list(ListQuery(sort_by="name", sort_order="asc"))
        assert {a.id for a in page.items} == {kept.id, edited.id}
        assert page.total == 2


async def test_other_transactions_see_committed_data_only(uow_factory):
    agent = make.agent(name="v1")
    await put(uow_factory, "agents", agent)
    newcomer = make.agent()
    async with uow_factory() as writer, uow_factory() as reader:
        await writer.agents.add(newcomer)
        await writer.agents.update(replace(agent, name="v2"))
        assert await reader.agents.get(newcomer.id) is None
        assert (await reader.agents.get(agent.id)).name == "v1"
        assert (await reader.agents.list(ListQuery())).total == 1
        await writer.commit()
        # read committed: the next statement of the reader sees the commit
        assert await reader.agents.get(newcomer.id) == newcomer
        assert (await reader.agents.get(agent.id)).name == "v2"


async def test_two_transactions_racing_for_one_email_commit_once(uow_factory):
    bystanders = [make.agent(), make.agent()]

    def register(bystander):
        async def write(uow):
            await uow.agents.add(bystander)
            await uow.users.add(make.user(email="Race@Example.com"))

        return write

    outcomes = await race(uow_factory, register(bystanders[0]), register(bystanders[1]))
    assert sum(isinstance(outcome, Conflict) for outcome in outcomes) == 1
    async with uow_factory() as uow:
        assert (await uow.users.list(ListQuery())).total == 2  # and the local owner
        # all or nothing: the loser's other write was not applied either
        kept = [await uow.agents.get(agent.id) for agent in bystanders]
    assert [agent is not None for agent in kept] == [o is None for o in outcomes]


async def test_a_conflicting_id_committed_meanwhile_fails_one_transaction(uow_factory):
    agent = make.agent()

    def add(name):
        async def write(uow):
            await uow.agents.add(replace(agent, name=name))

        return write

    outcomes = await race(uow_factory, add("one"), add("two"))
    assert sum(isinstance(outcome, Conflict) for outcome in outcomes) == 1
    winner = "one" if outcomes[0] is None else "two"
    assert (await fetch(uow_factory, "agents", agent.id)).name == winner


async def test_a_failed_commit_applies_nothing_of_it(uow_factory):
    agent, other, counted = make.agent(), make.user(), make.execution()
    await put(uow_factory, "executions", counted)

    async def many(uow):
        await uow.agents.add(agent)
        await uow.users.add(other)
        await uow.executions.add_step_counts(counted.id, completed=5)
        await uow.users.add(make.user(email="late@example.com"))

    async def one(uow):
        await uow.users.add(make.user(email="late@example.com"))

    outcomes = await race(uow_factory, one, many)
    assert sum(isinstance(outcome, Conflict) for outcome in outcomes) == 1
    applied = outcomes[1] is None
    assert (await fetch(uow_factory, "agents", agent.id) is not None) is applied
    assert (await fetch(uow_factory, "users", other.id) is not None) is applied
    completed = (await fetch(uow_factory, "executions", counted.id)).steps_completed
    assert completed == (5 if applied else 0)


async def test_concurrent_agent_run_counts_are_all_kept(uow_factory):
    agent = make.agent()
    await put(uow_factory, "agents", agent)

    async def first(uow):
        await uow.agents.record_runs(agent.id, succeeded=2, failed=1, total_ms=300, now=at(5))

    async def second(uow):
        await uow.agents.record_runs(agent.id, succeeded=1, failed=0, total_ms=100, now=at(6))

    assert await race(uow_factory, first, second) == [None, None]
    stored = await fetch(uow_factory, "agents", agent.id)
    assert (stored.total_executions, stored.successful_executions) == (4, 3)
    assert stored.failed_executions == 1
    assert stored.avg_execution_time_ms == pytest.approx(100)


async def test_run_counts_follow_the_domain_rule(uow_factory):
    agent = make.agent(total_executions=4, successful_executions=3, failed_executions=1)
    agent = replace(agent, avg_execution_time_ms=50.0)
    await put(uow_factory, "agents", agent)
    async with uow_factory() as uow:
        await uow.agents.record_runs(agent.id, succeeded=1, failed=1, total_ms=400, now=at(7))
        await uow.agents.record_runs(agent.id, succeeded=0, failed=0, total_ms=0, now=at(8))
        await uow.commit()
    expected = agent.with_runs(1, 1, 400, at(7))
    assert await fetch(uow_factory, "agents", agent.id) == expected


async def test_run_counts_are_visible_inside_before_commit(uow_factory):
    agent = make.agent()
    await put(uow_factory, "agents", agent)
    async with uow_factory() as uow:
        await uow.agents.record_runs(agent.id, succeeded=1, failed=0, total_ms=50, now=at(1))
        assert (await uow.agents.get(agent.id)).total_executions == 1
    assert (await fetch(uow_factory, "agents", agent.id)).total_executions == 0


async def test_counting_runs_of_a_missing_or_deleted_agent_does_nothing(uow_factory):
    deleted = make.agent(deleted_at=at(1))
    await put(uow_factory, "agents", deleted)
    async with uow_factory() as uow:
        await uow.agents.record_runs(uuid4(), succeeded=1, failed=0, total_ms=1, now=at(2))
        await uow.agents.record_runs(deleted.id, succeeded=1, failed=0, total_ms=1, now=at(2))
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.agents.list(ListQuery())).total == 0


async def test_concurrent_workflow_runs_are_all_counted(uow_factory):
    flow = make.workflow()
    await put(uow_factory, "workflows", flow)

    async def succeeded(uow):
        await uow.workflows.record_run(flow.id, succeeded=True, duration_ms=100, now=at(1))

    async def failed(uow):
        await uow.workflows.record_run(flow.id, succeeded=False, duration_ms=300, now=at(2))

    assert await race(uow_factory, succeeded, failed) == [None, None]
    stored = await fetch(uow_factory, "workflows", flow.id)
    counts = (stored.total_executions, stored.successful_executions, stored.failed_executions)
    assert counts == (2, 1, 1)
    assert stored.avg_execution_time_ms == pytest.approx(200)
    assert stored.last_execution_at is not None
    async with uow_factory() as uow:
        await uow.workflows.record_run(uuid4(), succeeded=True, duration_ms=1, now=at(3))
        await uow.commit()  # a missing workflow: nothing to count, no error


async def test_concurrent_step_counts_are_all_kept(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)

    async def one(uow):
        await uow.executions.add_step_counts(execution.id, completed=1)
        return (await uow.executions.get(execution.id)).steps_completed

    async def two(uow):
        await uow.executions.add_step_counts(execution.id, completed=2, failed=1)

    outcomes = await race(uow_factory, one, two)
    assert outcomes[1] is None
    assert outcomes[0] in (1, 3)  # read-your-writes: its own count, plus the other's if it waited
    stored = await fetch(uow_factory, "executions", execution.id)
    assert (stored.steps_completed, stored.steps_failed) == (3, 1)


async def test_step_counts_after_an_update_in_the_same_transaction_add_up(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)
    async with uow_factory() as uow:
        await uow.executions.add_step_counts(execution.id, completed=1)
        await uow.executions.update(replace(execution, steps_completed=10))
        await uow.executions.add_step_counts(execution.id, completed=1)
        assert (await uow.executions.get(execution.id)).steps_completed == 11
        await uow.commit()
    assert (await fetch(uow_factory, "executions", execution.id)).steps_completed == 11


async def test_a_rolled_back_counter_is_not_applied(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)

    async def fail() -> None:
        async with uow_factory() as uow:
            await uow.executions.add_step_counts(execution.id, completed=5)
            raise Boom

    with pytest.raises(Boom):
        await fail()
    assert (await fetch(uow_factory, "executions", execution.id)).steps_completed == 0


# --- compare and set --------------------------------------------------------------------


async def test_update_if_writes_only_when_the_status_is_as_expected(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)
    running = replace(execution, status=ExecutionStatus.RUNNING, started_at=at(1))
    async with uow_factory() as uow:
        assert not await uow.executions.update_if(running, ExecutionStatus.RUNNING)
        assert await uow.executions.status_of(execution.id) is ExecutionStatus.PENDING
        assert await uow.executions.update_if(running, ExecutionStatus.PENDING)
        assert await uow.executions.status_of(execution.id) is ExecutionStatus.RUNNING
        await uow.commit()
    assert await fetch(uow_factory, "executions", execution.id) == running
    async with uow_factory() as uow:
        assert not await uow.executions.update_if(running, ExecutionStatus.PENDING)
        assert await uow.executions.status_of(uuid4()) is None
        assert not await uow.executions.update_if(make.execution(), ExecutionStatus.PENDING)


async def test_of_two_compare_and_sets_on_one_status_only_one_wins(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)

    def move_to(status):
        async def write(uow):
            moved = replace(execution, status=status)
            return await uow.executions.update_if(moved, ExecutionStatus.PENDING)

        return write

    outcomes = await race(
        uow_factory, move_to(ExecutionStatus.RUNNING), move_to(ExecutionStatus.CANCELLED)
    )
    # The loser sees the new status (False), or is refused when it commits (Conflict).
    won = [outcome is True for outcome in outcomes]
    assert sum(won) == 1
    assert all(
        outcome is False or isinstance(outcome, Conflict)
        for outcome, w in zip(outcomes, won, strict=True)
        if not w
    )
    expected = ExecutionStatus.RUNNING if won[0] else ExecutionStatus.CANCELLED
    assert (await fetch(uow_factory, "executions", execution.id)).status is expected
