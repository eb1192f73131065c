"""CONDITION, LOOP, PARALLEL and WAIT steps, and how skips propagate."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.core.builders import step
from tests.core.engine.harness import T0, Harness, echo
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.domain.workflow import OnError, StepType


def condition(key, predicate, on_true=(), on_false=(), deps=(), **kw):
    return step(
        key,
        deps,
        step_type=StepType.CONDITION,
        config={"condition": predicate, "onTrue": list(on_true), "onFalse": list(on_false)},
        **kw,
    )


async def branching(h: Harness, amount: int):
    agent = await h.agent("echo", echo)
    wf = await h.workflow(
        [
            condition(
                "big",
                {"left": "{{inputs.amount}}", "operator": "gte", "right": 100},
                on_true=["premium"],
                on_false=["standard"],
            ),
            step("premium", agent_id=agent.id, inputs={"tier": "premium"}),
            step("premium_extra", ["premium"], agent_id=agent.id),
            step("standard", agent_id=agent.id, inputs={"tier": "standard"}),
            step(
                "join",
                ["premium_extra", "standard"],
                agent_id=agent.id,
                inputs={"p": "{{premium.output.tier}}", "s": "{{standard.output.tier}}"},
            ),
        ]
    )
    execution = await h.run(wf, {"amount": amount})
    return execution, await h.runs(execution.id)


async def test_a_condition_skips_the_branch_not_taken_and_its_descendants(h: Harness):
    execution, runs = await branching(h, 150)
    assert execution.status is ExecutionStatus.COMPLETED
    assert runs["big"].output == {"result": True}
    assert runs["standard"].status is StepStatus.SKIPPED
    assert runs["premium_extra"].status is StepStatus.COMPLETED
    # the join runs once its non-skipped dependencies finished; the skipped side stays unresolved
    assert runs["join"].output == {"p": "premium", "s": "{{standard.output.tier}}"}
    assert set(execution.output_data or {}) == {"big", "premium", "premium_extra", "join"}


async def test_the_other_branch_and_descendants_whose_dependencies_all_skipped(h: Harness):
    execution, runs = await branching(h, 5)
    assert runs["big"].output == {"result": False}
    assert runs["premium"].status is StepStatus.SKIPPED
    assert runs["premium_extra"].status is StepStatus.SKIPPED  # all its dependencies skipped
    assert runs["standard"].status is StepStatus.COMPLETED
    assert runs["join"].status is StepStatus.COMPLETED
    assert execution.steps_completed == 3


async def test_compound_predicates(h: Harness):
    agent = await h.agent("echo", echo)
    predicate = {
        "all": [
            {"left": "{{inputs.name}}", "operator": "startsWith", "right": "A"},
            {"not": {"left": "{{inputs.tags}}", "operator": "contains", "right": "banned"}},
            {"any": [{"left": "{{inputs.n}}", "operator": "in", "right": [1, 2]}, False]},
        ]
    }
    wf = await h.workflow([condition("c", predicate, on_true=["t"]), step("t", agent_id=agent.id)])
    yes = await h.run(wf, {"name": "Ada", "tags": ["x"], "n": 2})
    no = await h.run(wf, {"name": "Ada", "tags": ["banned"], "n": 2})
    assert (await h.runs(yes.id))["t"].status is StepStatus.COMPLETED
    assert (await h.runs(no.id))["t"].status is StepStatus.SKIPPED


async def test_a_failed_condition_under_continue_skips_both_branches(h: Harness):
    agent = await h.agent("echo", echo)
    wf = await h.workflow(
        [
            condition(
                "c", "{{inputs.flag}}", on_true=["t"], on_false=["f"], on_error=OnError.CONTINUE
            ),
            step("t", agent_id=agent.id),
            step("f", agent_id=agent.id),
        ]
    )
    execution = await h.run(wf, {"flag": "not a predicate"})
    runs = await h.runs(execution.id)
    assert runs["c"].status is StepStatus.FAILED
    assert (runs["t"].status, runs["f"].status) == (StepStatus.SKIPPED, StepStatus.SKIPPED)
    assert execution.status is ExecutionStatus.COMPLETED and execution.steps_failed == 1


async def test_a_loop_runs_the_agent_per_item_in_order_within_its_concurrency(h: Harness):
    async def slow_upper(config, inputs, ctx):
        await asyncio.sleep(0.01 * (3 - inputs["i"] % 3))  # finish out of order
        return {"i": inputs["i"], "name": inputs["name"].upper()}

    agent = await h.agent("upper", slow_upper)
    wf = await h.workflow(
        [
            step(
                "each",
                step_type=StepType.LOOP,
                agent_id=None,
                config={
                    "items": "{{inputs.people}}",
                    "agentId": str(agent.id),
                    "concurrency": 2,
                    "inputs": {"name": "{{loop.item.name}}", "i": "{{loop.index}}"},
                },
            )
        ]
    )
    people = [{"name": n} for n in ["ada", "bob", "cy", "di", "ed"]]
    execution = await h.run(wf, {"people": people})
    assert execution.output_data == {
        "each": [{"i": i, "name": p["name"].upper()} for i, p in enumerate(people)]
    }
    assert h.scripted.max_running == 2
    async with h.store.unit_of_work() as uow:
        counted = await uow.agents.get(agent.id)
    assert counted is not None and counted.total_executions == 5


async def test_a_loop_refuses_more_items_than_max_iterations_and_reports_failed_iterations(
    h: Harness,
):
    async def picky(config, inputs, ctx):
        if inputs["v"] == 2:
            raise AgentFailure("two is not allowed", retryable=False)
        return inputs["v"]

    agent = await h.agent("picky", picky)
    loop = {"agentId": str(agent.id), "inputs": {"v": "{{loop.item}}"}}
    wf = await h.workflow(
        [
            step(
                "l",
                step_type=StepType.LOOP,
                agent_id=None,
                config={**loop, "items": [1, 2, 3], "maxIterations": 2},
            )
        ]
    )
    execution = await h.run(wf)
    assert "3 items, over its maxIterations of 2" in (execution.error_message or "")
    wf2 = await h.workflow(
        [step("l", step_type=StepType.LOOP, agent_id=None, config={**loop, "items": [1, 2, 3]})]
    )
    execution = await h.run(wf2)
    assert "iteration 1 failed: two is not allowed" in (execution.error_message or "")


async def test_parallel_branches_run_together_and_a_failure_cancels_the_rest(h: Harness):
    cancelled = []

    async def waits(config, inputs, ctx):
        try:
            await asyncio.sleep(inputs["s"])
        except asyncio.CancelledError:
            cancelled.append(inputs["s"])
            raise
        if inputs.get("fail"):
            raise AgentFailure("broken", retryable=False)
        return inputs["s"]

    agent = await h.agent("waits", waits)
    ok = await h.workflow(
        [
            step(
                "p",
                step_type=StepType.PARALLEL,
                agent_id=None,
                config={
                    "branches": {
                        "a": {"agentId": str(agent.id), "inputs": {"s": 0.02}},
                        "b": {"agentId": str(agent.id), "inputs": {"s": 0.01}},
                    }
                },
            )
        ]
    )
    execution = await h.run(ok)
    assert execution.output_data == {"p": {"a": 0.02, "b": 0.01}}
    assert h.scripted.max_running == 2

    bad = await h.workflow(
        [
            step(
                "p",
                step_type=StepType.PARALLEL,
                agent_id=None,
                config={
                    "branches": {
                        "slow": {"agentId": str(agent.id), "inputs": {"s": 5}},
                        "bad": {"agentId": str(agent.id), "inputs": {"s": 0.01, "fail": True}},
                    }
                },
            )
        ]
    )
    execution = await h.run(bad)
    assert "branch 'bad' failed: broken" in (execution.error_message or "")
    assert cancelled == [5]


async def test_wait_sleeps_on_the_clock_for_a_duration_or_until_a_time(h: Harness):
    wf = await h.workflow(
        [
            step("pause", step_type=StepType.WAIT, agent_id=None, config={"durationMs": 1500}),
            step(
                "until",
                ["pause"],
                step_type=StepType.WAIT,
                agent_id=None,
                config={"until": (T0 + timedelta(seconds=10)).isoformat()},
            ),
            step(
                "past",
                ["until"],
                step_type=StepType.WAIT,
                agent_id=None,
                config={"until": "2020-01-01T00:00:00Z"},
            ),
        ]
    )
    execution = await h.run(wf)
    assert execution.output_data == {
        "pause": {"waitedMs": 1500},
        "until": {"waitedMs": 8500},
        "past": {"waitedMs": 0},
    }
    assert h.clock.sleeps == [1.5, 8.5]


async def test_data_agents_run_inline_in_workflows(h: Harness):
    adults = await h.agent(
        "adults",
        agent_type=AgentType.DATA,
        config={
            "pipeline": [
                {"operation": "filter", "field": "age", "operator": "gte", "value": 18},
                {"operation": "sort", "by": [{"field": "age", "direction": "desc"}]},
                {"operation": "pick", "fields": ["name"]},
            ]
        },
    )
    wf = await h.workflow([step("a", agent_id=adults.id, inputs={"data": "{{inputs.people}}"})])
    people = [{"name": "kid", "age": 9}, {"name": "ada", "age": 36}, {"name": "bob", "age": 18}]
    execution = await h.run(wf, {"people": people})
    assert execution.output_data == {"a": [{"name": "ada"}, {"name": "bob"}]}
