"""The WORKFLOW agent on every store: children are linked, listed, cancelled with their
parent, and stop at the nesting limit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import pytest

from tests.core.builders import step
from tests.core.engine.harness import Harness, echo
from tests.core.engine.test_workflow_agent import (
    ChildHarness,
    add_workflow,
    all_descendants,
    calls,
    children,
)
from tests.databases import STORE_KINDS
from tests.integration.stores import harness_on
from turbocat_core.domain.common import AgentId, WorkflowId
from turbocat_core.domain.execution import ExecutionStatus, StepStatus


@pytest.fixture(params=STORE_KINDS)
async def h(request, tmp_path: Path):
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with harness_on(request.param, tmp_path, dsn, ChildHarness) as harness:
        yield harness


async def test_a_child_runs_linked_and_listed(h: Harness):
    tag = await h.agent("tag", echo)
    child_wf = await h.workflow([step("inner", agent_id=tag.id, inputs={"x": "{{inputs.x}}"})])
    runner = await calls(h, child_wf.id)
    parent_wf = await h.workflow([step("call", agent_id=runner.id, inputs={"x": 5})])
    parent = await h.run(parent_wf)
    assert parent.status is ExecutionStatus.COMPLETED, parent.error_message
    assert parent.output_data == {"call": {"inner": {"x": 5}}}
    [child] = await children(h, parent.id)
    assert (child.parent_execution_id, child.depth, child.status) == (
        parent.id,
        1,
        ExecutionStatus.COMPLETED,
    )


async def test_cancelling_the_parent_cancels_the_child(h: Harness):
    async def slow(config, inputs, ctx):
        await asyncio.sleep(30)

    agent = await h.agent("slow", slow)
    child_wf = await h.workflow([step("inner", agent_id=agent.id)])
    runner = await calls(h, child_wf.id)
    parent = await h.start(h.actor, (await h.workflow([step("call", agent_id=runner.id)])).id)
    while not h.scripted.calls:
        await asyncio.sleep(0.005)
    await h.cancel(h.actor, parent.id)
    await asyncio.wait_for(h.queue.drain(), 2)
    [child] = await children(h, parent.id)
    assert child.status is ExecutionStatus.CANCELLED
    assert (await h.runs(child.id))["inner"].status is StepStatus.FAILED


async def test_recursion_stops_at_the_depth_limit(h: Harness):
    workflow_id, agent_id = WorkflowId(uuid4()), AgentId(uuid4())
    await calls(h, workflow_id, agent_id=agent_id)
    top = await h.run(
        await add_workflow(h, [step("again", agent_id=agent_id)], workflow_id=workflow_id)
    )
    assert top.status is ExecutionStatus.FAILED
    nested = await all_descendants(h, top.id)
    assert [e.depth for e in nested] == [1, 2, 3, 4, 5]
    assert "nesting deeper than 5 workflows" in (top.error_message or "")
