"""The WORKFLOW agent: child executions, their links, failures, cancellation and nesting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import uuid4

import pytest

from tests.core.builders import step
from tests.core.engine.harness import T0, Harness, echo
from turbocat_adapters.memory import InProcessQueue, MemoryClaims
from turbocat_core.agents.contract import AgentExecutors, RunContext
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.agents.workflow_agent import CHILD_TRIGGER, WorkflowAgent
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, ExecutionId, ListQuery, UserId, WorkflowId
from turbocat_core.domain.execution import (
    EXECUTION_QUERY,
    Execution,
    ExecutionStatus,
    StepRun,
    StepStatus,
)
from turbocat_core.domain.workflow import Workflow, WorkflowStatus, WorkflowStep
from turbocat_core.engine.runner import Engine
from turbocat_core.usecases.executions import MAX_DEPTH, StartExecution
from turbocat_core.usecases.running import lease_name


class ChildHarness(Harness):
    """The engine harness with a WORKFLOW executor (it runs children with the step's engine)."""

    def make_engine(self) -> Engine:
        executors = AgentExecutors(
            {
                AgentType.CODE: self.scripted,
                AgentType.DATA: DataAgent(),
                AgentType.WORKFLOW: WorkflowAgent(),
            }
        )
        return replace(super().make_engine(), executors=executors)


@pytest.fixture
async def h():
    harness = ChildHarness()
    yield harness
    await harness.queue.close()


async def add_workflow(
    h: Harness,
    steps: Sequence[WorkflowStep],
    *,
    workflow_id: WorkflowId | None = None,
    owner: UserId | None = None,
    **fields: Any,
) -> Workflow:
    """A workflow with a chosen id and owner (``Harness.workflow`` picks both itself)."""
    workflow = Workflow(
        id=workflow_id or WorkflowId(uuid4()),
        created_at=T0,
        updated_at=T0,
        user_id=owner or h.owner,
        name="workflow",
        status=fields.pop("status", WorkflowStatus.ACTIVE),
        **fields,
    )
    async with h.store.unit_of_work() as uow:
        await uow.workflows.add(workflow)
        for position, one in enumerate(steps):
            await uow.steps.add(replace(one, workflow_id=workflow.id, position=position))
        await uow.commit()
    return workflow


async def calls(
    h: Harness, target: WorkflowId, *, agent_id: AgentId | None = None, owner: UserId | None = None
) -> Agent:
    """A WORKFLOW agent running ``target``."""
    agent = Agent(
        id=agent_id or AgentId(uuid4()),
        created_at=T0,
        updated_at=T0,
        user_id=owner or h.owner,
        name=f"run {target}",
        type=AgentType.WORKFLOW,
        status=AgentStatus.ACTIVE,
        config={"workflowId": str(target)},
    )
    async with h.store.unit_of_work() as uow:
        await uow.agents.add(agent)
        await uow.commit()
    return agent


async def children(h: Harness, parent: ExecutionId) -> list[Execution]:
    query = ListQuery.build(
        EXECUTION_QUERY,
        sort_by="created_at",
        sort_order="asc",
        filters={"parent_execution_id": parent},
    )
    async with h.store.unit_of_work() as uow:
        return (await uow.executions.list(query)).items


async def test_a_parent_runs_its_child_and_gets_its_output_data(h: Harness):
    tag = await h.agent("tag", echo)
    child_wf = await h.workflow(
        [step("inner", agent_id=tag.id, inputs={"got": "{{inputs.x}}", "more": "{{inputs.y}}"})],
        definition={"inputs": {"y": "default"}},
    )
    runner = await calls(h, child_wf.id)
    parent_wf = await h.workflow(
        [
            step("call", agent_id=runner.id, inputs={"x": "{{inputs.n}}"}),
            step("after", ["call"], agent_id=tag.id, inputs={"seen": "{{call.output.inner.got}}"}),
        ]
    )

    parent = await h.run(parent_wf, {"n": 7})

    assert parent.status is ExecutionStatus.COMPLETED, parent.error_message
    assert parent.output_data == {
        "call": {"inner": {"got": 7, "more": "default"}},
        "after": {"seen": 7},
    }
    [child] = await children(h, parent.id)
    assert child.status is ExecutionStatus.COMPLETED
    assert child.workflow_id == child_wf.id and child.user_id == h.owner
    assert (child.parent_execution_id, child.depth) == (parent.id, 1)
    assert child.input_data == {"x": 7, "y": "default"}  # the step inputs over the defaults
    assert child.trigger_type is CHILD_TRIGGER
    assert child.trigger_data == {
        "parentExecutionId": str(parent.id),
        "parentWorkflowId": str(parent_wf.id),
        "parentStepKey": "call",
        "parentAttempt": 1,
    }
    logs = await h.logs(parent.id)
    assert any(f"child execution {child.id}" in line.message for line in logs)


async def test_the_childs_steps_see_its_depth(h: Harness):
    depths: list[int] = []

    async def depth(config, inputs, ctx):
        depths.append(ctx.depth)
        return ctx.depth

    probe = await h.agent("probe", depth)
    child_wf = await h.workflow([step("p", agent_id=probe.id)])
    runner = await calls(h, child_wf.id)
    parent_wf = await h.workflow([step("p", agent_id=probe.id), step("c", agent_id=runner.id)])
    parent = await h.run(parent_wf)
    assert parent.status is ExecutionStatus.COMPLETED
    assert sorted(depths) == [0, 1]


async def test_counters_count_the_workflow_agent_once_and_the_childs_agents_in_the_child(
    h: Harness,
):
    tag = await h.agent("tag", echo)
    child_wf = await h.workflow([step("a", agent_id=tag.id), step("b", ["a"], agent_id=tag.id)])
    runner = await calls(h, child_wf.id)
    parent_wf = await h.workflow([step("call", agent_id=runner.id)])
    await h.run(parent_wf)
    async with h.store.unit_of_work() as uow:
        workflow_agent = await uow.agents.get(runner.id)
        inner = await uow.agents.get(tag.id)
    assert workflow_agent is not None and inner is not None
    assert (workflow_agent.total_executions, workflow_agent.successful_executions) == (1, 1)
    assert (inner.total_executions, inner.successful_executions) == (2, 2)
    assert (await h.reload_workflow(child_wf.id)).total_executions == 1
    assert (await h.reload_workflow(parent_wf.id)).total_executions == 1


async def test_a_failing_child_fails_the_parent_step_with_its_id_and_message(h: Harness):
    async def boom(config, inputs, ctx):
        raise ValueError("the inner thing broke")

    bad = await h.agent("bad", boom)
    child_wf = await h.workflow([step("inner", agent_id=bad.id)])
    runner = await calls(h, child_wf.id)
    parent_wf = await h.workflow([step("call", agent_id=runner.id)])

    parent = await h.run(parent_wf)

    [child] = await children(h, parent.id)
    assert child.status is ExecutionStatus.FAILED
    assert parent.status is ExecutionStatus.FAILED
    assert parent.error_message is not None
    assert f"child execution {child.id} failed" in parent.error_message
    assert "the inner thing broke" in parent.error_message
    runs = await h.runs(parent.id)
    assert runs["call"].status is StepStatus.FAILED


async def test_each_retry_of_the_step_starts_a_new_child(h: Harness):
    attempts = 0

    async def flaky(config, inputs, ctx):
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ValueError("not yet")
        return "ok"

    agent = await h.agent("flaky", flaky)
    child_wf = await h.workflow([step("inner", agent_id=agent.id)])
    runner = await calls(h, child_wf.id)
    parent_wf = await h.workflow(
        [step("call", agent_id=runner.id, retry_count=1, retry_delay_ms=0)]
    )
    parent = await h.run(parent_wf)
    assert parent.status is ExecutionStatus.COMPLETED
    assert parent.output_data == {"call": {"inner": "ok"}}
    first, second = await children(h, parent.id)
    assert first.status is ExecutionStatus.FAILED and second.status is ExecutionStatus.COMPLETED
    assert [c.trigger_data["parentAttempt"] for c in (first, second)] == [1, 2]


async def test_cancelling_the_parent_cancels_the_running_child(h: Harness):
    interrupted = asyncio.Event()

    async def slow(config, inputs, ctx):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            interrupted.set()
            raise

    agent = await h.agent("slow", slow)
    child_wf = await h.workflow([step("inner", agent_id=agent.id)])
    runner = await calls(h, child_wf.id)
    parent_wf = await h.workflow([step("call", agent_id=runner.id)])
    parent = await h.start(h.actor, parent_wf.id)
    while not h.scripted.calls:
        await asyncio.sleep(0.001)
    [child] = await children(h, parent.id)
    assert child.status is ExecutionStatus.RUNNING

    started = time.monotonic()
    await h.cancel(h.actor, parent.id)
    await asyncio.wait_for(interrupted.wait(), 1)
    await h.queue.drain()
    assert time.monotonic() - started < 1

    child = await h.execution(child.id)
    assert child.status is ExecutionStatus.CANCELLED
    assert (await h.runs(child.id))["inner"].status is StepStatus.FAILED
    assert (await h.execution(parent.id)).status is ExecutionStatus.CANCELLED
    assert (await h.runs(parent.id))["call"].status is StepStatus.FAILED


async def test_a_child_cancelled_on_its_own_fails_the_parent_step(h: Harness):
    async def slow(config, inputs, ctx):
        await asyncio.sleep(30)

    agent = await h.agent("slow", slow)
    child_wf = await h.workflow([step("inner", agent_id=agent.id)])
    runner = await calls(h, child_wf.id)
    parent_wf = await h.workflow([step("call", agent_id=runner.id, retry_count=3)])
    parent = await h.start(h.actor, parent_wf.id)
    while not h.scripted.calls:
        await asyncio.sleep(0.001)
    [child] = await children(h, parent.id)
    await h.cancel(h.actor, child.id)
    await h.queue.drain()
    final = await h.execution(parent.id)
    assert final.status is ExecutionStatus.FAILED
    assert final.error_message is not None
    assert f"child execution {child.id} cancelled" in final.error_message
    assert len(await children(h, parent.id)) == 1  # someone chose to stop it: no retry


async def chain(h: Harness, length: int) -> list[Workflow]:
    """``length`` workflows, each calling the next; the last echoes its inputs."""
    tag = await h.agent("tag", echo)
    ids = [WorkflowId(uuid4()) for _ in range(length)]
    workflows = [await add_workflow(h, [step("leaf", agent_id=tag.id)], workflow_id=ids[-1])]
    for index in range(length - 2, -1, -1):
        runner = await calls(h, ids[index + 1])
        workflows.insert(
            0, await add_workflow(h, [step("down", agent_id=runner.id)], workflow_id=ids[index])
        )
    return workflows


async def all_descendants(h: Harness, root: ExecutionId) -> list[Execution]:
    found: list[Execution] = []
    level = [root]
    while level:
        nxt: list[ExecutionId] = []
        for parent in level:
            for child in await children(h, parent):
                found.append(child)
                nxt.append(child.id)
        level = nxt
    return found


async def test_workflows_nest_five_levels_deep(h: Harness):
    workflows = await chain(h, MAX_DEPTH + 1)  # the top one and five nested below it
    top = await h.run(workflows[0], {"v": 1})
    assert top.status is ExecutionStatus.COMPLETED, top.error_message
    nested = await all_descendants(h, top.id)
    assert [e.depth for e in nested] == [1, 2, 3, 4, 5]
    assert all(e.status is ExecutionStatus.COMPLETED for e in nested)


async def test_a_sixth_nested_workflow_fails_at_the_depth_limit(h: Harness):
    workflows = await chain(h, MAX_DEPTH + 2)
    top = await h.run(workflows[0])
    assert top.status is ExecutionStatus.FAILED
    nested = await all_descendants(h, top.id)
    assert [e.depth for e in nested] == [1, 2, 3, 4, 5]  # the sixth never started
    deepest = nested[-1]
    assert deepest.status is ExecutionStatus.FAILED
    assert deepest.error_message is not None
    assert "nesting deeper than 5 workflows" in deepest.error_message
    assert top.error_message is not None and "nesting deeper than 5 workflows" in top.error_message
    assert all(e.status is ExecutionStatus.FAILED for e in nested)


async def test_a_workflow_calling_itself_stops_at_the_depth_limit(h: Harness):
    workflow_id = WorkflowId(uuid4())
    agent_id = AgentId(uuid4())
    await calls(h, workflow_id, agent_id=agent_id)
    workflow = await add_workflow(h, [step("again", agent_id=agent_id)], workflow_id=workflow_id)
    top = await h.run(workflow)
    assert top.status is ExecutionStatus.FAILED
    nested = await all_descendants(h, top.id)
    assert [e.depth for e in nested] == [1, 2, 3, 4, 5]
    assert "nesting deeper than 5 workflows" in (nested[-1].error_message or "")
    async with h.store.unit_of_work() as uow:
        agent = await uow.agents.get(agent_id)
    assert agent is not None and (agent.total_executions, agent.failed_executions) == (6, 6)


async def test_another_users_workflow_is_refused_private_or_public(h: Harness):
    other = h.new_actor().user_id
    tag = await h.agent("tag", echo)
    private = await add_workflow(h, [step("a", agent_id=tag.id)], owner=other)
    public = await add_workflow(h, [step("a", agent_id=tag.id)], owner=other, is_public=True)
    to_private = await calls(h, private.id)
    to_public = await calls(h, public.id)
    for runner, expected in (
        (to_private, f"workflow {private.id} does not exist"),
        (to_public, f"workflow {public.id} belongs to another user"),
    ):
        parent = await h.run(await h.workflow([step("call", agent_id=runner.id, retry_count=2)]))
        assert parent.status is ExecutionStatus.FAILED
        assert expected in (parent.error_message or "")
        assert await children(h, parent.id) == []
        assert (await h.runs(parent.id))["call"].attempt == 1  # refusals are not retried


async def test_a_workflow_that_cannot_run_fails_the_step_clearly(h: Harness):
    tag = await h.agent("tag", echo)
    draft = await add_workflow(h, [step("a", agent_id=tag.id)], status=WorkflowStatus.DRAFT)
    empty = await add_workflow(h, [])
    for target, expected in (
        (draft.id, "only ACTIVE workflows run"),
        (empty.id, "has no steps"),
        (WorkflowId(uuid4()), "does not exist"),
    ):
        runner = await calls(h, target)
        parent = await h.run(await h.workflow([step("call", agent_id=runner.id)]))
        assert parent.status is ExecutionStatus.FAILED
        assert f"workflow {target}" in (parent.error_message or "")
        assert expected in (parent.error_message or "")


async def test_any_engine_with_a_workflow_agent_runs_children_with_nothing_to_bind():
    harness = Harness()
    executors = AgentExecutors(
        {AgentType.CODE: harness.scripted, AgentType.WORKFLOW: WorkflowAgent()}
    )
    harness.engine = replace(harness.engine, executors=executors)
    harness.queue = InProcessQueue(runner=harness.engine.run, clock=harness.clock)
    try:
        tag = await harness.agent("tag", echo)
        target = await harness.workflow([step("a", agent_id=tag.id, inputs={"n": 1})])
        runner = await calls(harness, target.id)
        parent = await harness.run(await harness.workflow([step("call", agent_id=runner.id)]))
        assert parent.status is ExecutionStatus.COMPLETED, parent.error_message
        [child] = await children(harness, parent.id)
        assert child.status is ExecutionStatus.COMPLETED
    finally:
        await harness.queue.close()


async def test_a_workflow_agent_called_outside_an_execution_says_so(h: Harness):
    target = await h.workflow([step("a", agent_id=(await h.agent("tag", echo)).id)])
    agent = await calls(h, target.id)
    ctx = RunContext(
        execution_id=ExecutionId(uuid4()), workflow_id=target.id, user_id=h.owner, step_key="x"
    )
    with pytest.raises(AgentFailure, match="only inside an execution") as raised:
        await WorkflowAgent().execute(agent, dict(agent.config), {}, ctx)
    assert not raised.value.retryable


class _Nowhere:
    """A queue whose process stopped before it ran anything."""

    async def enqueue_execution(self, execution_id, *, at=None):
        return None


async def test_a_resumed_parent_cancels_the_child_a_dead_process_left_and_starts_a_new_one(
    h: Harness,
):
    tag = await h.agent("tag", echo)
    child_wf = await h.workflow([step("inner", agent_id=tag.id)])
    runner = await calls(h, child_wf.id)
    parent_wf = await h.workflow([step("call", agent_id=runner.id)])
    # What a process killed mid-step leaves: the parent RUNNING with its step at attempt 1,
    # and that attempt's child unfinished (nobody runs it any more).
    start = StartExecution(uow=h.store.unit_of_work, clock=h.clock, ids=h.ids, queue=_Nowhere())
    parent = await start(h.actor, parent_wf.id)
    stale = await start(
        h.actor,
        child_wf.id,
        parent=parent,
        trigger=CHILD_TRIGGER,
        trigger_data={"parentStepKey": "call", "parentAttempt": 1},
    )
    now = h.clock.now()
    async with h.store.unit_of_work() as uow:
        assert await uow.executions.update_if(
            parent.moved_to(ExecutionStatus.RUNNING, now), ExecutionStatus.PENDING
        )
        await uow.step_runs.save(
            StepRun(
                id=uuid4(),
                created_at=now,
                updated_at=now,
                execution_id=parent.id,
                step_key="call",
                step_id=parent.steps[0].id,
                status=StepStatus.RUNNING,
                attempt=1,
                started_at=now,
            )
        )
        await uow.commit()

    resumed = await h.engine.run(parent.id)

    assert resumed.status is ExecutionStatus.COMPLETED, resumed.error_message
    old, new = await children(h, parent.id)
    assert old.id == stale.id and old.status is ExecutionStatus.CANCELLED
    assert new.status is ExecutionStatus.COMPLETED and new.trigger_data["parentAttempt"] == 2
    assert any(
        f"cancelled child execution {stale.id}" in line.message for line in await h.logs(parent.id)
    )


async def test_the_child_holds_its_lease_while_it_runs(h: Harness):
    claims = MemoryClaims(h.clock)
    h.engine = replace(h.engine, claims=claims)
    held: list[str | None] = []

    async def look(config, inputs, ctx):
        [holder] = await claims.holders([lease_name(ctx.execution_id)])
        held.append(holder)
        return "ok"

    agent = await h.agent("look", look)
    child_wf = await h.workflow([step("inner", agent_id=agent.id)])
    runner = await calls(h, child_wf.id)
    start = StartExecution(uow=h.store.unit_of_work, clock=h.clock, ids=h.ids, queue=_Nowhere())
    parent = await start(h.actor, (await h.workflow([step("call", agent_id=runner.id)])).id)
    done = await h.engine.run(parent.id)
    assert done.status is ExecutionStatus.COMPLETED
    assert held and held[0] is not None and held[0].startswith("child:")
    [child] = await children(h, parent.id)
    assert await claims.holders([lease_name(child.id)]) == [None]  # released


async def test_a_step_timeout_cancels_the_child(h: Harness):
    async def slow(config, inputs, ctx):
        await asyncio.sleep(30)

    agent = await h.agent("slow", slow)
    child_wf = await h.workflow([step("inner", agent_id=agent.id)])
    runner = await calls(h, child_wf.id)
    parent = await h.run(await h.workflow([step("call", agent_id=runner.id, timeout_seconds=0.1)]))
    assert parent.status is ExecutionStatus.FAILED
    assert "attempt exceeded its timeout" in (parent.error_message or "")
    [child] = await children(h, parent.id)
    assert child.status is ExecutionStatus.CANCELLED
    assert (await h.runs(child.id))["inner"].status is StepStatus.FAILED
