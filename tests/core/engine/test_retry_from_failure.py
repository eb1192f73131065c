"""Retrying a failed execution reuses what completed (SPEC §2, retry from failure)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.core.builders import step
from tests.core.engine.harness import Harness, echo
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.domain.execution import ExecutionStatus
from turbocat_core.errors import InvalidState


def gate_agent():
    """An agent that fails until ``state["fail"]`` is set to False."""
    state = {"fail": True}

    async def gate(config, inputs, ctx):
        if state["fail"]:
            raise AgentFailure("not yet", retryable=False)
        return "open"

    return state, gate


async def failing_once_workflow(h: Harness):
    state, gate = gate_agent()
    ok = await h.agent("echo", echo)
    gated = await h.agent("gate", gate)
    wf = await h.workflow(
        [
            step("a", agent_id=ok.id, inputs={"v": 1}),
            step("b", ["a"], agent_id=ok.id, inputs={"v": "{{a.output.v}}"}),
            step("c", ["b"], agent_id=gated.id),
            step("d", ["c"], agent_id=ok.id, inputs={"c": "{{c.output}}"}),
        ]
    )
    failed = await h.run(wf)
    assert failed.status is ExecutionStatus.FAILED
    state["fail"] = False
    return wf, failed


async def test_retry_reuses_completed_steps_and_runs_the_rest(h: Harness):
    _, failed = await failing_once_workflow(h)
    retried = await h.retry(h.actor, failed.id)
    assert retried.retry_of == failed.id and retried.steps_completed == 2
    await h.queue.drain()
    done = await h.execution(retried.id)
    assert done.status is ExecutionStatus.COMPLETED
    assert done.output_data == {"a": {"v": 1}, "b": {"v": 1}, "c": "open", "d": {"c": "open"}}
    assert h.scripted.count("echo") == 3  # a and b in the first run, only d in the retry
    runs = await h.runs(retried.id)
    assert runs["a"].reused_from == failed.id and runs["c"].reused_from is None


async def test_from_start_runs_everything_again(h: Harness):
    _, failed = await failing_once_workflow(h)
    retried = await h.retry(h.actor, failed.id, from_start=True)
    await h.queue.drain()
    assert (await h.execution(retried.id)).status is ExecutionStatus.COMPLETED
    assert h.scripted.count("echo") == 5
    assert all(run.reused_from is None for run in (await h.runs(retried.id)).values())


async def test_latest_version_reruns_changed_steps_and_everything_after_them(h: Harness):
    wf, failed = await failing_once_workflow(h)
    async with h.store.unit_of_work() as uow:
        steps = {s.step_key: s for s in await uow.steps.for_workflow(wf.id)}
        await uow.steps.update(replace(steps["b"], inputs={"v": "{{a.output.v}}", "new": True}))
        await uow.commit()
    retried = await h.retry(h.actor, failed.id, use_latest_version=True)
    await h.queue.drain()
    runs = await h.runs(retried.id)
    assert runs["a"].reused_from == failed.id
    assert runs["b"].reused_from is None and runs["b"].output == {"v": 1, "new": True}
    done = await h.execution(retried.id)
    assert done.status is ExecutionStatus.COMPLETED and done.steps[1].inputs["new"] is True


async def test_only_finished_unsuccessful_executions_can_be_retried(h: Harness):
    ok = await h.agent("echo", echo)
    wf = await h.workflow([step("a", agent_id=ok.id)])
    done = await h.run(wf)
    with pytest.raises(InvalidState):
        await h.retry(h.actor, done.id)


async def test_a_retry_of_a_retry_still_reuses_the_original_outputs(h: Harness):
    state, gate = gate_agent()
    ok = await h.agent("echo", echo)
    gated = await h.agent("gate", gate)
    wf = await h.workflow([step("a", agent_id=ok.id), step("c", ["a"], agent_id=gated.id)])
    original = await h.run(wf)
    second = await h.retry(h.actor, original.id)
    await h.queue.drain()
    assert (await h.execution(second.id)).status is ExecutionStatus.FAILED
    state["fail"] = False
    third = await h.retry(h.actor, second.id)
    await h.queue.drain()
    assert (await h.execution(third.id)).status is ExecutionStatus.COMPLETED
    assert (await h.runs(third.id))["a"].reused_from == original.id
    assert h.scripted.count("echo") == 1
