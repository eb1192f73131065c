"""Contract of what running needs: workflow steps, executions, step runs."""

from __future__ import annotations

import copy
from dataclasses import replace
from uuid import uuid4

import pytest

from tests.contracts import factories as make
from tests.contracts.factories import at
from tests.contracts.helpers import put
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.domain.workflow import StepType
from turbocat_core.errors import Conflict, NotFound

# --- steps -------------------------------------------------------------------------------


async def test_steps_are_listed_by_position_then_key(uow_factory):
    flow = uuid4()
    steps = [
        make.step(flow, "c", position=1),
        make.step(flow, "b", position=2),
        make.step(flow, "a", position=1),
        make.step(uuid4(), "elsewhere"),
    ]
    await put(uow_factory, "steps", *steps)
    async with uow_factory() as uow:
        found = await uow.steps.for_workflow(flow)
        assert [s.step_key for s in found] == ["a", "c", "b"]
        assert found[0] == steps[2]
        assert await uow.steps.for_workflow(uuid4()) == []


async def test_step_keys_are_unique_per_workflow(uow_factory):
    flow = uuid4()
    fetch_step = make.step(flow, "fetch")
    await put(uow_factory, "steps", fetch_step)
    async with uow_factory() as uow:
        with pytest.raises(Conflict):
            await uow.steps.add(make.step(flow, "fetch"))
        await uow.steps.add(make.step(uuid4(), "fetch"))  # another workflow: fine
        other = make.step(flow, "other")
        await uow.steps.add(other)
        with pytest.raises(Conflict):
            await uow.steps.update(replace(other, step_key="fetch"))
        with pytest.raises(Conflict):
            await uow.steps.add(replace(make.step(flow, "new"), id=fetch_step.id))


async def test_steps_update_and_delete(uow_factory):
    flow = uuid4()
    first, second = make.step(flow, "a"), make.step(flow, "b", position=1)
    await put(uow_factory, "steps", first, second)
    async with uow_factory() as uow:
        await uow.steps.update(replace(first, step_name="renamed", inputs={"v": 2}))
        await uow.steps.delete(second.id)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.steps.for_workflow(flow) == [
            replace(first, step_name="renamed", inputs={"v": 2})
        ]
        with pytest.raises(NotFound):
            await uow.steps.delete(second.id)
        with pytest.raises(NotFound):
            await uow.steps.update(second)
        with pytest.raises(NotFound):
            await uow.steps.delete(uuid4())


async def test_a_deleted_steps_key_is_free_again_in_the_same_transaction(uow_factory):
    flow = uuid4()
    old = make.step(flow, "a")
    await put(uow_factory, "steps", old)
    new = make.step(flow, "a", step_name="new")
    async with uow_factory() as uow:
        await uow.steps.delete(old.id)
        await uow.steps.add(new)
        assert [s.id for s in await uow.steps.for_workflow(flow)] == [new.id]
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.steps.for_workflow(flow) == [new]


async def test_steps_are_copied(uow_factory):
    flow = uuid4()
    original = make.step(flow, "a")
    expected = copy.deepcopy(original)
    await put(uow_factory, "steps", original)
    original.config["x"]["y"].append(2)
    async with uow_factory() as uow:
        read = (await uow.steps.for_workflow(flow))[0]
        read.inputs["v"] = "changed"
        assert await uow.steps.for_workflow(flow) == [expected]


async def test_agent_used_by_others_looks_at_live_workflows_of_other_users(uow_factory):
    owner, other = uuid4(), uuid4()
    agent, looped, branched = make.agent(owner), make.agent(owner), make.agent(owner)
    await put(uow_factory, "agents", agent, looped, branched)
    mine, theirs = make.workflow(owner), make.workflow(other)
    gone = make.workflow(other, deleted_at=at(5))
    await put(uow_factory, "workflows", mine, theirs, gone)
    await put(
        uow_factory,
        "steps",
        make.step(mine.id, "a", agent_id=agent.id),  # the owner's own use does not count
        make.step(gone.id, "a", agent_id=agent.id),  # nor does a deleted workflow's
        # ids in config, written as UUID() reads them, only where the engine looks for them
        make.step(
            theirs.id,
            "each",
            step_type=StepType.LOOP,
            agent_id=None,
            config={"items": [1], "agentId": str(looped.id).upper()},
        ),
        make.step(
            theirs.id,
            "both",
            step_type=StepType.PARALLEL,
            agent_id=None,
            config={"branches": {"x": 1, "y": {"agentId": "{" + branched.id.hex + "}"}}},
        ),
        make.step(
            theirs.id,
            "odd",
            step_type=StepType.CONDITION,
            agent_id=None,
            config={"agentId": str(agent.id), "branches": "text"},
        ),
    )
    async with uow_factory() as uow:
        assert not await uow.steps.agent_used_by_others(agent.id, owner)
        assert await uow.steps.agent_used_by_others(looped.id, owner)
        assert await uow.steps.agent_used_by_others(branched.id, owner)
        assert not await uow.steps.agent_used_by_others(looped.id, other)  # theirs: own use
        assert not await uow.steps.agent_used_by_others(make.agent(owner).id, owner)
        # A step written in this transaction counts at once (the same rows reads see).
        await uow.steps.add(make.step(theirs.id, "direct", agent_id=agent.id))
        assert await uow.steps.agent_used_by_others(agent.id, owner)
    async with uow_factory() as uow:  # rolled back
        assert not await uow.steps.agent_used_by_others(agent.id, owner)


# --- executions ----------------------------------------------------------------------------


async def test_status_of_sees_pending_writes(uow_factory):
    execution = make.execution()
    async with uow_factory() as uow:
        await uow.executions.add(execution)
        assert await uow.executions.status_of(execution.id) is ExecutionStatus.PENDING
        await uow.executions.update(replace(execution, status=ExecutionStatus.RUNNING))
        assert await uow.executions.status_of(execution.id) is ExecutionStatus.RUNNING


async def test_the_pinned_steps_are_written_once(uow_factory):
    execution = make.execution()
    await put(uow_factory, "executions", execution)
    other_steps = (make.step(execution.workflow_id, "z"),)
    async with uow_factory() as uow:
        await uow.executions.update(replace(execution, steps=other_steps, steps_total=1))
        running = replace(execution, steps=(), status=ExecutionStatus.RUNNING)
        assert await uow.executions.update_if(running, ExecutionStatus.PENDING)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.executions.get(execution.id)
    assert stored.steps == execution.steps
    assert (stored.status, stored.steps_total) == (ExecutionStatus.RUNNING, 2)


async def test_step_counts_of_an_unknown_execution_do_nothing(uow_factory):
    async with uow_factory() as uow:
        await uow.executions.add_step_counts(uuid4(), completed=1)
        await uow.commit()


# --- step runs ---------------------------------------------------------------------------


async def test_step_runs_are_kept_one_per_step_in_first_saved_order(uow_factory):
    execution = uuid4()
    b_run, a_run = make.step_run(execution, "b"), make.step_run(execution, "a")
    async with uow_factory() as uow:
        await uow.step_runs.save(b_run)
        await uow.step_runs.save(a_run)
        await uow.step_runs.save(make.step_run(uuid4(), "a"))
        await uow.commit()
    done = replace(b_run, status=StepStatus.COMPLETED, output={"n": 1}, updated_at=at(9))
    async with uow_factory() as uow:
        await uow.step_runs.save(done)
        runs = await uow.step_runs.for_execution(execution)  # read your own writes
        assert runs == [done, a_run]
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.step_runs.for_execution(execution) == [done, a_run]
        assert await uow.step_runs.for_execution(uuid4()) == []


async def test_a_step_run_saved_again_keeps_its_first_id_and_creation_time(uow_factory):
    execution = uuid4()
    first = make.step_run(execution, "a", created_at=at(1))
    again = make.step_run(execution, "a", created_at=at(5), status=StepStatus.FAILED)
    async with uow_factory() as uow:
        await uow.step_runs.save(first)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.step_runs.save(again)
        await uow.commit()
    async with uow_factory() as uow:
        [stored] = await uow.step_runs.for_execution(execution)
    assert stored == replace(again, id=first.id, created_at=first.created_at)


async def test_step_runs_are_rolled_back_and_isolated(uow_factory):
    execution = uuid4()
    run = make.step_run(execution, "a")
    async with uow_factory() as writer, uow_factory() as reader:
        await writer.step_runs.save(run)
        assert await reader.step_runs.for_execution(execution) == []
        await writer.rollback()
        assert await writer.step_runs.for_execution(execution) == []


async def test_step_run_outputs_are_copied(uow_factory):
    execution = uuid4()
    run = make.step_run(execution, "a", output={"rows": [{"a": 1}]})
    async with uow_factory() as uow:
        await uow.step_runs.save(run)
        await uow.commit()
    run.output["rows"].append({"b": 2})
    async with uow_factory() as uow:
        [read] = await uow.step_runs.for_execution(execution)
        assert read.output == {"rows": [{"a": 1}]}
        read.output["rows"].clear()
        [again] = await uow.step_runs.for_execution(execution)
        assert again.output == {"rows": [{"a": 1}]}


async def test_a_step_run_id_used_by_another_step_is_a_conflict(uow_factory):
    execution = uuid4()
    run = make.step_run(execution, "a")
    async with uow_factory() as uow:
        await uow.step_runs.save(run)
        with pytest.raises(Conflict):
            await uow.step_runs.save(replace(run, step_key="b"))


# --- deferred blocks (the journal's batches) ---------------------------------------------


async def test_writes_in_a_deferred_block_commit_together(uow_factory):
    execution = uuid4()
    runs = [make.step_run(execution, key) for key in ("a", "b", "c")]
    async with uow_factory() as uow:
        async with uow.deferred():
            for run in runs:
                await uow.step_runs.save(run)
            stored = await uow.logs.append(
                [make.log_line(execution, "x"), make.log_line(execution, "y")]
            )
        assert [line.seq for line in stored] == [1, 2]  # results are there by the block's end
        await uow.commit()
    async with uow_factory() as uow:
        assert [run.step_key for run in await uow.step_runs.for_execution(execution)] == [
            "a",
            "b",
            "c",
        ]


async def refused_deferred_block(uow, execution, *, commit: bool = False) -> None:
    """A deferred block whose second write is refused (a step run id taken by another step)."""
    run = make.step_run(execution, "a")
    with pytest.raises(Conflict):  # noqa: PT012 (the block is what may raise)
        async with uow.deferred():
            await uow.step_runs.save(run)
            await uow.step_runs.save(replace(run, step_key="b"))
            if commit:
                await uow.commit()


@pytest.mark.parametrize("commit", [False, True], ids=["uncommitted", "committed-in-block"])
async def test_a_refused_write_in_a_deferred_block_raises_by_its_end(uow_factory, commit):
    execution = uuid4()
    async with uow_factory() as uow:
        await refused_deferred_block(uow, execution, commit=commit)
    async with uow_factory() as uow:  # nothing of that unit of work stayed
        assert await uow.step_runs.for_execution(execution) == []


async def test_a_unit_of_work_goes_on_after_a_refused_deferred_block_is_rolled_back(
    uow_factory,
):
    execution = uuid4()
    async with uow_factory() as uow:
        await refused_deferred_block(uow, execution)
        await uow.rollback()
        await uow.step_runs.save(make.step_run(execution, "c"))
        await uow.commit()
    async with uow_factory() as uow:
        assert [run.step_key for run in await uow.step_runs.for_execution(execution)] == ["c"]


async def test_a_read_in_a_deferred_block_sees_the_blocks_writes(uow_factory):
    execution = uuid4()
    async with uow_factory() as uow:
        async with uow.deferred():
            await uow.step_runs.save(make.step_run(execution, "a"))
            assert [run.step_key for run in await uow.step_runs.for_execution(execution)] == ["a"]
        await uow.commit()


async def test_a_commit_in_a_deferred_block_keeps_the_blocks_writes(uow_factory):
    execution = uuid4()
    async with uow_factory() as uow:
        async with uow.deferred():
            await uow.step_runs.save(make.step_run(execution, "a"))
            stored = await uow.logs.append([make.log_line(execution, "x")])
            await uow.commit()
        assert [line.seq for line in stored] == [1]
    async with uow_factory() as uow:
        assert [run.step_key for run in await uow.step_runs.for_execution(execution)] == ["a"]
        assert await uow.logs.last_seq(execution) == 1
