"""The run loop: references between steps, ordering, concurrency, results, logs and counters."""

from __future__ import annotations

import asyncio

from tests.core.builders import step
from tests.core.engine.harness import Harness, echo
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.execution import ExecutionStatus, LogLevel, StepStatus


async def test_a_chain_passes_outputs_along_and_records_everything(h: Harness):
    double = await h.agent(
        "double",
        agent_type=AgentType.DATA,
        config={"operation": "map", "fields": {"n": "n"}},
    )
    tag = await h.agent("tag", echo)
    wf = await h.workflow(
        [
            step("first", agent_id=double.id, inputs={"data": "{{inputs.rows}}"}),
            step(
                "second",
                ["first"],
                agent_id=tag.id,
                inputs={"rows": "{{first.output}}", "label": "n={{first.output.0.n}}"},
            ),
        ]
    )
    execution = await h.run(wf, {"rows": [{"n": 1, "x": 0}, {"n": 2}]})
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.output_data == {
        "first": [{"n": 1}, {"n": 2}],
        "second": {"rows": [{"n": 1}, {"n": 2}], "label": "n=1"},
    }
    assert (execution.steps_total, execution.steps_completed, execution.steps_failed) == (2, 2, 0)
    assert execution.started_at is not None and execution.completed_at is not None

    logs = await h.logs(execution.id)
    assert [log.seq for log in logs] == list(range(1, len(logs) + 1))
    transitions = [(log.step_key, log.step_status, log.attempt) for log in logs if log.step_key]
    assert transitions == [
        ("first", StepStatus.RUNNING, 1),
        ("first", StepStatus.COMPLETED, 1),
        ("second", StepStatus.RUNNING, 1),
        ("second", StepStatus.COMPLETED, 1),
    ]
    completed = [log for log in logs if log.step_status is StepStatus.COMPLETED]
    assert all(log.step_duration_ms is not None and log.step_started_at for log in completed)
    assert logs[-1].message.startswith("execution completed")

    workflow = await h.reload_workflow(wf.id)
    assert (workflow.total_executions, workflow.successful_executions) == (1, 1)
    assert workflow.last_execution_at is not None
    async with h.store.unit_of_work() as uow:
        counted = await uow.agents.get(tag.id)
    assert counted is not None and (counted.total_executions, counted.successful_executions) == (
        1,
        1,
    )


async def test_every_step_transition_is_stored_before_dependents_start(h: Harness):
    seen = {}

    async def look(config, inputs, ctx):
        async with h.store.unit_of_work() as uow:
            runs = {r.step_key: r for r in await uow.step_runs.for_execution(ctx.execution_id)}
        seen[ctx.step_key] = {key: run.status for key, run in runs.items()}
        return ctx.step_key

    agent = await h.agent("look", look)
    wf = await h.workflow([step("a", agent_id=agent.id), step("b", ["a"], agent_id=agent.id)])
    await h.run(wf)
    assert seen["a"] == {"a": StepStatus.RUNNING}
    assert seen["b"] == {"a": StepStatus.COMPLETED, "b": StepStatus.RUNNING}


async def test_ready_steps_run_concurrently_up_to_max_concurrency_in_topological_order(h: Harness):
    started: list[str] = []
    release = asyncio.Event()

    async def gated(config, inputs, ctx):
        started.append(ctx.step_key)
        await release.wait()
        return ctx.step_key

    agent = await h.agent("gated", gated)
    steps = [step(f"s{i}", agent_id=agent.id, position=10 - i) for i in range(6)]
    wf = await h.workflow(steps, max_concurrency=2)
    execution = await h.start(h.actor, wf.id)
    for _ in range(50):
        await asyncio.sleep(0)
    assert started == ["s5", "s4"]  # ties start by position, then key
    release.set()
    await h.queue.drain()
    assert h.scripted.max_running == 2
    assert started == ["s5", "s4", "s3", "s2", "s1", "s0"]
    assert (await h.execution(execution.id)).status is ExecutionStatus.COMPLETED


async def test_a_diamond_joins_after_both_branches(h: Harness):
    agent = await h.agent("echo", echo)
    wf = await h.workflow(
        [
            step("top", agent_id=agent.id, inputs={"v": 1}),
            step("left", ["top"], agent_id=agent.id, inputs={"v": "{{top.output.v}}"}),
            step("right", ["top"], agent_id=agent.id, inputs={"v": 2}),
            step(
                "join",
                ["left", "right"],
                agent_id=agent.id,
                inputs={"sum": ["{{left.output.v}}", "{{right.output.v}}"]},
            ),
        ]
    )
    execution = await h.run(wf)
    assert execution.output_data is not None
    assert execution.output_data["join"] == {"sum": [1, 2]}
    assert [call[0] for call in h.scripted.calls] == ["echo"] * 4


async def test_unresolved_references_are_left_as_written_with_a_warning(h: Harness):
    agent = await h.agent("echo", echo)
    wf = await h.workflow(
        [step("a", agent_id=agent.id, inputs={"x": "{{inputs.nope}}", "y": "{{metadata.k}}"})]
    )
    execution = await h.run(wf, metadata={"k": "v"})
    assert execution.output_data == {"a": {"x": "{{inputs.nope}}", "y": "v"}}
    warnings = [log for log in await h.logs(execution.id) if log.level is LogLevel.WARN]
    assert len(warnings) == 1 and "{{inputs.nope}}" in warnings[0].message
    assert warnings[0].step_key == "a"


async def test_workflow_input_defaults_merge_under_given_inputs(h: Harness):
    agent = await h.agent("echo", echo)
    wf = await h.workflow(
        [step("a", agent_id=agent.id, inputs={"a": "{{inputs.a}}", "b": "{{inputs.b}}"})],
        definition={"inputs": {"a": 1, "b": 2}},
    )
    execution = await h.run(wf, {"b": 3})
    assert execution.input_data == {"a": 1, "b": 3}
    assert execution.output_data == {"a": {"a": 1, "b": 3}}


async def test_an_execution_is_pinned_to_the_steps_it_was_created_with(h: Harness):
    agent = await h.agent("echo", echo)
    wf = await h.workflow([step("a", agent_id=agent.id, inputs={"v": "old"})])
    execution = await h.start(h.actor, wf.id)
    async with h.store.unit_of_work() as uow:
        (current,) = await uow.steps.for_workflow(wf.id)
        from dataclasses import replace

        await uow.steps.update(replace(current, inputs={"v": "new"}))
        await uow.commit()
    await h.queue.drain()
    assert (await h.execution(execution.id)).output_data == {"a": {"v": "old"}}


async def test_running_a_finished_execution_again_changes_nothing(h: Harness):
    agent = await h.agent("echo", echo)
    wf = await h.workflow([step("a", agent_id=agent.id)])
    execution = await h.run(wf)
    again = await h.engine.run(execution.id)
    assert again == execution
    assert h.scripted.count("echo") == 1


async def test_agents_that_cannot_run_fail_their_step_clearly(h: Harness):
    archived = await h.agent("old", echo)
    async with h.store.unit_of_work() as uow:
        from dataclasses import replace

        from turbocat_core.domain.agent import AgentStatus

        await uow.agents.update(replace(archived, status=AgentStatus.ARCHIVED))
        await uow.commit()
    agent = await h.agent("echo", echo)
    wf = await h.workflow([step("a", agent_id=agent.id)])
    execution = await h.start(h.actor, wf.id)
    async with h.store.unit_of_work() as uow:
        await uow.agents.update(
            replace(agent, status=AgentStatus.ARCHIVED, updated_at=agent.updated_at)
        )
        await uow.commit()
    await h.queue.drain()
    done = await h.execution(execution.id)
    assert done.status is ExecutionStatus.FAILED
    assert "ARCHIVED" in (done.error_message or "")
    assert (await h.runs(execution.id))["a"].attempt == 1  # not retried: it cannot get better


async def test_oversized_outputs_fail_the_step(h: Harness):
    h.settings = h.settings.__class__(max_step_output_bytes=100)
    h.engine = h.make_engine()
    from turbocat_adapters.memory import InProcessQueue

    h.queue = InProcessQueue(runner=h.engine.run, clock=h.clock)

    async def big(config, inputs, ctx):
        return "x" * 200

    agent = await h.agent("big", big)
    wf = await h.workflow([step("a", agent_id=agent.id, retry_count=3)])
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.FAILED
    run = (await h.runs(execution.id))["a"]
    assert run.attempt == 1 and "over the limit of 100 bytes" in (run.error or "")


async def test_secrets_from_env_are_masked_in_logs_and_errors(h: Harness):
    h.env = {"TOKEN": "s3cr3t-value"}

    async def leaky(config, inputs, ctx):
        await ctx.log(LogLevel.INFO, f"using {inputs['token']}", {"token": inputs["token"]})
        raise RuntimeError(f"server said no to {inputs['token']}")

    agent = await h.agent("leaky", leaky)
    wf = await h.workflow([step("a", agent_id=agent.id, inputs={"token": "{{env.TOKEN}}"})])
    execution = await h.run(wf)
    assert h.scripted.calls[0][1] == {"token": "s3cr3t-value"}  # the agent gets the real value
    text = repr(await h.logs(execution.id)) + repr(await h.runs(execution.id)) + repr(execution)
    assert "s3cr3t-value" not in text
    assert "********" in (execution.error_message or "")
