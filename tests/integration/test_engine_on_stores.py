"""The engine end to end on every store: what it persists is enough to resume, retry, cancel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.core.builders import step
from tests.core.engine.harness import Harness, echo
from tests.databases import STORE_KINDS
from tests.integration.stores import harness_on
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.domain.workflow import OnError, StepType


@pytest.fixture(params=STORE_KINDS)
async def h(request, tmp_path: Path):
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with harness_on(request.param, tmp_path, dsn, Harness) as harness:
        yield harness


async def test_references_counters_and_logs_survive_the_store(h: Harness):
    data = await h.agent(
        "pick", agent_type=AgentType.DATA, config={"operation": "map", "fields": {"n": "n"}}
    )
    wf = await h.workflow(
        [
            step("a", agent_id=data.id, inputs={"data": "{{inputs.rows}}"}),
            step("b", ["a"], agent_id=data.id, inputs={"data": "{{a.output}}"}),
            step("c", ["a"], agent_id=data.id, inputs={"data": "{{a.output}}"}),
            step("d", ["b", "c"], agent_id=data.id, inputs={"data": [{"n": "{{b.output.0.n}}"}]}),
        ]
    )
    execution = await h.run(wf, {"rows": [{"n": 1, "x": 2}, {"n": 2}]})
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.output_data == {
        "a": [{"n": 1}, {"n": 2}],
        "b": [{"n": 1}, {"n": 2}],
        "c": [{"n": 1}, {"n": 2}],
        "d": [{"n": 1}],
    }
    assert (execution.steps_completed, execution.steps_failed) == (4, 0)
    logs = await h.logs(execution.id)
    assert [line.seq for line in logs] == list(range(1, len(logs) + 1))
    assert sum(1 for line in logs if line.step_status is StepStatus.COMPLETED) == 4
    workflow = await h.reload_workflow(wf.id)
    assert (workflow.total_executions, workflow.successful_executions) == (1, 1)
    async with h.store.unit_of_work() as uow:
        agent = await uow.agents.get(data.id)
    assert agent is not None and agent.total_executions == 4


async def test_skips_joins_and_a_wide_fan_out_with_concurrent_commits(h: Harness):
    agent = await h.agent("echo", echo)
    branches = [step(f"f{i}", ["gate"], agent_id=agent.id, inputs={"i": i}) for i in range(30)]
    wf = await h.workflow(
        [
            step(
                "gate",
                step_type=StepType.CONDITION,
                agent_id=None,
                config={
                    "condition": True,
                    "onTrue": [b.step_key for b in branches],
                    "onFalse": ["no"],
                },
            ),
            *branches,
            step("no", agent_id=agent.id),
            step(
                "join",
                [*(b.step_key for b in branches), "no"],
                agent_id=agent.id,
                inputs={"last": "{{f29.output.i}}"},
            ),
        ],
        max_concurrency=8,
    )
    execution = await h.run(wf)
    runs = await h.runs(execution.id)
    assert execution.status is ExecutionStatus.COMPLETED
    assert runs["no"].status is StepStatus.SKIPPED
    assert runs["join"].output == {"last": 29}
    assert execution.steps_completed == 32 and h.scripted.max_running <= 8


async def test_a_crashed_run_resumes_from_what_the_store_kept(h: Harness):
    gate = asyncio.Event()

    async def slow_once(config, inputs, ctx):
        if ctx.attempt == 1:
            gate.set()
            await asyncio.sleep(30)
        return {"attempt": ctx.attempt}

    first = await h.agent("echo", echo)
    second = await h.agent("slow", slow_once)
    wf = await h.workflow(
        [step("one", agent_id=first.id, inputs={"v": 1}), step("two", ["one"], agent_id=second.id)]
    )
    execution = await h.start(h.actor, wf.id)
    await gate.wait()
    await h.queue.close()
    finished = await h.make_engine().run(execution.id)
    assert finished.status is ExecutionStatus.COMPLETED
    assert finished.output_data == {"one": {"v": 1}, "two": {"attempt": 2}}
    assert h.scripted.count("echo") == 1


async def test_cancel_and_retry_from_failure(h: Harness):
    stop = asyncio.Event()

    async def waits(config, inputs, ctx):
        stop.set()
        await asyncio.sleep(30)

    slow = await h.agent("waits", waits)
    wf = await h.workflow([step("a", agent_id=slow.id)])
    execution = await h.start(h.actor, wf.id)
    await stop.wait()
    await h.cancel(h.actor, execution.id)
    await h.queue.drain()
    assert (await h.execution(execution.id)).status is ExecutionStatus.CANCELLED
    assert (await h.runs(execution.id))["a"].status is StepStatus.FAILED

    broken = {"on": True}

    async def flaky(config, inputs, ctx):
        if broken["on"]:
            raise AgentFailure("down", retryable=False)
        return "up"

    ok = await h.agent("echo", echo)
    bad = await h.agent("flaky", flaky)
    wf2 = await h.workflow(
        [step("x", agent_id=ok.id, inputs={"v": 1}), step("y", ["x"], agent_id=bad.id)]
    )
    failed = await h.run(wf2)
    assert failed.status is ExecutionStatus.FAILED
    broken["on"] = False
    retried = await h.retry(h.actor, failed.id)
    await h.queue.drain()
    done = await h.execution(retried.id)
    assert done.status is ExecutionStatus.COMPLETED and done.retry_of == failed.id
    assert (await h.runs(retried.id))["x"].reused_from == failed.id
    assert h.scripted.count("echo") == 1


async def test_outputs_errors_and_inputs_holding_nul_characters_complete(h: Harness):
    """NUL (which PostgreSQL refuses in text and jsonb) and its escape make the round trip."""
    awkward = "a\x00b \ufdd0 \ufdd00 \\u0000"

    async def broken(config, inputs, ctx):
        raise AgentFailure(f"remote said {awkward}", retryable=False)

    shout = await h.agent("echo", echo)
    fails = await h.agent("broken", broken)
    pick = await h.agent(
        "pick", agent_type=AgentType.DATA, config={"operation": "pick", "fields": ["stdout"]}
    )
    wf = await h.workflow(
        [
            step("a", agent_id=shout.id, inputs={"stdout": awkward, awkward: ["\x00"]}),
            step("b", ["a"], agent_id=pick.id, inputs={"data": "{{a.output}}"}),
            step("c", agent_id=fails.id, on_error=OnError.CONTINUE),
        ]
    )
    execution = await h.run(wf, {"raw": awkward})
    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert execution.input_data == {"raw": awkward}
    assert execution.output_data == {
        "a": {"stdout": awkward, awkward: ["\x00"]},
        "b": {"stdout": awkward},
    }
    runs = await h.runs(execution.id)
    assert runs["b"].output == {"stdout": awkward}
    assert runs["c"].error is not None and awkward in runs["c"].error
    assert any(awkward in line.message for line in await h.logs(execution.id))
