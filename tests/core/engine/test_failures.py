"""Failure policy, retries with backoff, timeouts, cancellation and crash recovery."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.core.builders import step
from tests.core.engine.harness import Harness, echo, sleeper
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.domain.execution import ExecutionStatus, LogLevel, StepStatus
from turbocat_core.domain.workflow import OnError
from turbocat_core.errors import InvalidState


def flaky(failures: int, kind: FailureKind = FailureKind.NETWORK):
    async def behaviour(config, inputs, ctx):
        if ctx.attempt <= failures:
            raise AgentFailure(f"attempt {ctx.attempt} broke", kind=kind)
        return {"attempt": ctx.attempt}

    return behaviour


async def test_retries_back_off_exponentially_with_jitter(h: Harness):
    agent = await h.agent("flaky", flaky(3))
    wf = await h.workflow([step("a", agent_id=agent.id, retry_count=3, retry_delay_ms=200)])
    h.random.value = 0.0  # the low end of the ±20% jitter
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.output_data == {"a": {"attempt": 4}}
    assert h.clock.sleeps == pytest.approx([0.16, 0.32, 0.64])
    warns = [log for log in await h.logs(execution.id) if log.level is LogLevel.WARN]
    assert [w.attempt for w in warns] == [1, 2, 3]
    assert "retrying in 160 ms" in warns[0].message
    assert (await h.runs(execution.id))["a"].attempt == 4


async def test_backoff_is_capped_at_five_minutes(h: Harness):
    agent = await h.agent("flaky", flaky(2))
    wf = await h.workflow([step("a", agent_id=agent.id, retry_count=2, retry_delay_ms=250_000)])
    h.random.value = 1.0
    await h.run(wf)
    assert h.clock.sleeps == [300.0, 300.0]


async def test_retry_on_limits_which_failures_are_retried(h: Harness):
    agent = await h.agent("flaky", flaky(1, FailureKind.HTTP_5XX))
    only_timeouts = await h.workflow(
        [step("a", agent_id=agent.id, retry_count=2, config={"retryOn": ["timeout"]})]
    )
    assert (await h.run(only_timeouts)).status is ExecutionStatus.FAILED
    server_errors = await h.workflow(
        [step("a", agent_id=agent.id, retry_count=2, config={"retryOn": ["http_5xx", "timeout"]})]
    )
    assert (await h.run(server_errors)).status is ExecutionStatus.COMPLETED


async def test_on_error_retry_without_a_count_means_three_retries(h: Harness):
    agent = await h.agent("flaky", flaky(10))
    wf = await h.workflow([step("a", agent_id=agent.id, on_error=OnError.RETRY, retry_delay_ms=10)])
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.FAILED
    assert h.scripted.count("flaky") == 4
    logs = await h.logs(execution.id)
    assert "after 4 attempt(s)" in next(log.message for log in logs if log.level is LogLevel.ERROR)


async def test_failures_that_cannot_get_better_are_not_retried(h: Harness):
    async def broken(config, inputs, ctx):
        raise AgentFailure("bad config", retryable=False)

    agent = await h.agent("broken", broken)
    wf = await h.workflow([step("a", agent_id=agent.id, retry_count=5)])
    await h.run(wf)
    assert h.scripted.count("broken") == 1


async def test_continue_records_the_failure_and_dependents_still_run(h: Harness):
    async def broken(config, inputs, ctx):
        raise AgentFailure("upstream said no", retryable=False)

    bad = await h.agent("broken", broken)
    ok = await h.agent("echo", echo)
    wf = await h.workflow(
        [
            step("a", agent_id=bad.id, on_error=OnError.CONTINUE),
            step(
                "b",
                ["a"],
                agent_id=ok.id,
                inputs={"why": "{{a.error}}", "out": "{{a.output}}", "st": "{{a.status}}"},
            ),
        ]
    )
    execution = await h.run(wf)
    runs = await h.runs(execution.id)
    assert execution.status is ExecutionStatus.COMPLETED
    assert (runs["a"].status, runs["a"].output, runs["a"].error) == (
        StepStatus.FAILED,
        None,
        "upstream said no",
    )
    assert runs["b"].output == {"why": "upstream said no", "out": None, "st": "FAILED"}
    assert "a" not in (execution.output_data or {})
    assert (execution.steps_completed, execution.steps_failed) == (1, 1)


async def test_fail_cancels_running_steps_and_skips_unstarted_ones(h: Harness):
    cancelled = []

    async def slow(config, inputs, ctx):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(ctx.step_key)
            raise

    async def broken(config, inputs, ctx):
        await asyncio.sleep(0.01)
        raise AgentFailure("exploded", retryable=False)

    slow_agent = await h.agent("slow", slow)
    bad = await h.agent("broken", broken)
    ok = await h.agent("echo", echo)
    wf = await h.workflow(
        [
            step("slow", agent_id=slow_agent.id),
            step("bad", agent_id=bad.id),
            step("after", ["bad"], agent_id=ok.id),
        ]
    )
    started = time.monotonic()
    execution = await h.run(wf)
    assert time.monotonic() - started < 2
    runs = await h.runs(execution.id)
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error_message == "step 'bad' failed: exploded"
    assert cancelled == ["slow"]
    assert runs["slow"].status is StepStatus.FAILED and "another step failed" in (
        runs["slow"].error or ""
    )
    assert runs["after"].status is StepStatus.SKIPPED
    workflow = await h.reload_workflow(wf.id)
    assert (workflow.total_executions, workflow.failed_executions) == (1, 1)


@pytest.mark.slow
async def test_an_attempt_over_its_timeout_fails_as_a_timeout_and_is_retried(h: Harness):
    calls = []

    async def sometimes_slow(config, inputs, ctx):
        calls.append(ctx.attempt)
        await asyncio.sleep(5 if ctx.attempt == 1 else 0)
        return "fast enough"

    agent = await h.agent("s", sometimes_slow)
    wf = await h.workflow(
        [
            step(
                "a",
                agent_id=agent.id,
                timeout_seconds=0.05,
                retry_count=1,
                config={"retryOn": ["timeout"]},
            )
        ]
    )
    execution = await h.run(wf)
    assert execution.output_data == {"a": "fast enough"} and calls == [1, 2]
    first = next(log for log in await h.logs(execution.id) if log.level is LogLevel.WARN)
    assert "exceeded its timeout of 0.05 s" in first.message
    assert first.metadata["errorKind"] == "timeout"


@pytest.mark.slow
async def test_the_workflow_timeout_ends_the_run_as_timeout(h: Harness):
    agent = await h.agent("slow", sleeper(30))
    ok = await h.agent("echo", echo)
    wf = await h.workflow(
        [step("a", agent_id=agent.id), step("b", ["a"], agent_id=ok.id)], timeout_seconds=0.2
    )
    started = time.monotonic()
    execution = await h.run(wf)
    assert time.monotonic() - started < 2
    runs = await h.runs(execution.id)
    assert execution.status is ExecutionStatus.TIMEOUT
    assert "exceeded its timeout of 0.2 s" in (execution.error_message or "")
    assert runs["a"].status is StepStatus.FAILED and "timed out" in (runs["a"].error or "")
    assert runs["b"].status is StepStatus.SKIPPED


async def test_cancelling_a_running_execution_stops_it_within_a_second(h: Harness):
    interrupted = asyncio.Event()

    async def slow(config, inputs, ctx):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            interrupted.set()
            raise

    agent = await h.agent("slow", slow)
    wf = await h.workflow([step("a", agent_id=agent.id), step("b", ["a"], agent_id=agent.id)])
    execution = await h.start(h.actor, wf.id)
    while not h.scripted.calls:
        await asyncio.sleep(0.001)
    started = time.monotonic()
    cancelled = await h.cancel(h.actor, execution.id)
    assert cancelled.status is ExecutionStatus.CANCELLED
    await asyncio.wait_for(interrupted.wait(), 1)
    await h.queue.drain()
    assert time.monotonic() - started < 1
    final = await h.execution(execution.id)
    runs = await h.runs(execution.id)
    assert final.status is ExecutionStatus.CANCELLED and final.completed_at is not None
    assert runs["a"].status is StepStatus.FAILED and runs["b"].status is StepStatus.SKIPPED
    assert any(
        log.level is LogLevel.WARN and "cancelled" in log.message
        for log in await h.logs(execution.id)
    )
    with pytest.raises(InvalidState):
        await h.cancel(h.actor, execution.id)
    workflow = await h.reload_workflow(wf.id)
    assert workflow.total_executions == 1  # counted once, by whoever finished it


async def test_a_pending_execution_cancelled_before_it_starts_never_runs(h: Harness):
    agent = await h.agent("echo", echo)
    wf = await h.workflow([step("a", agent_id=agent.id)])
    execution = await h.start(h.actor, wf.id)
    await h.cancel(h.actor, execution.id)  # before the queue's task got to run
    await h.queue.drain()
    assert (await h.execution(execution.id)).status is ExecutionStatus.CANCELLED
    assert h.scripted.calls == []


async def test_a_run_whose_process_died_resumes_from_its_completed_steps(h: Harness):
    gate = asyncio.Event()

    async def second(config, inputs, ctx):
        if ctx.attempt == 1:
            gate.set()
            await asyncio.sleep(30)  # the process dies while this runs
        return {"got": inputs["v"], "attempt": ctx.attempt}

    first = await h.agent("echo", echo)
    agent = await h.agent("second", second)
    wf = await h.workflow(
        [
            step("one", agent_id=first.id, inputs={"v": 1}),
            step("two", ["one"], agent_id=agent.id, inputs={"v": "{{one.output.v}}"}),
            step("three", ["two"], agent_id=first.id, inputs={"t": "{{two.output.got}}"}),
        ]
    )
    execution = await h.start(h.actor, wf.id)
    await gate.wait()
    await h.queue.close()  # the worker is gone: its tasks are cancelled mid-step
    crashed = await h.execution(execution.id)
    runs = await h.runs(execution.id)
    assert crashed.status is ExecutionStatus.RUNNING
    assert (runs["one"].status, runs["two"].status) == (StepStatus.COMPLETED, StepStatus.RUNNING)

    fresh = h.make_engine()  # another worker, same store
    finished = await fresh.run(execution.id)
    assert finished.status is ExecutionStatus.COMPLETED
    assert h.scripted.count("echo") == 2  # "one" was not run again
    assert finished.output_data == {
        "one": {"v": 1},
        "two": {"got": 1, "attempt": 2},
        "three": {"t": 1},
    }
    logs = await h.logs(execution.id)
    assert any("resumed" in log.message for log in logs)
    assert [log.seq for log in logs] == list(range(1, len(logs) + 1))
    assert (finished.steps_completed, finished.steps_failed) == (3, 0)


async def test_a_chain_of_steps_that_never_wait_still_lets_others_run_and_cancel_it(h: Harness):
    async def busy(config, inputs, ctx):
        until = time.perf_counter() + 0.001
        while time.perf_counter() < until:  # CPU work, never awaits
            pass
        return ctx.step_key

    agent = await h.agent("busy", busy)
    chain = [step(f"s{i}", [f"s{i - 1}"] if i else [], agent_id=agent.id) for i in range(200)]
    wf = await h.workflow(chain)
    execution = await h.start(h.actor, wf.id)
    await asyncio.sleep(0.02)  # only returns if the run yields the event loop
    await h.cancel(h.actor, execution.id)
    await h.queue.drain()
    assert (await h.execution(execution.id)).status is ExecutionStatus.CANCELLED
    assert 5 < h.scripted.count("busy") < 100


@pytest.mark.slow
async def test_cancel_and_deadline_together_end_the_run_once(h: Harness):
    agent = await h.agent("slow", sleeper(30))
    wf = await h.workflow([step("a", agent_id=agent.id)], timeout_seconds=0.3)
    execution = await h.start(h.actor, wf.id)
    await asyncio.sleep(0.29)
    await h.cancel(h.actor, execution.id)
    await h.queue.drain()
    final = await h.execution(execution.id)
    assert final.status is ExecutionStatus.CANCELLED
    assert (await h.runs(execution.id))["a"].status is StepStatus.FAILED


async def test_when_steps_fail_together_the_first_in_order_is_the_cause(h: Harness):
    async def broken(config, inputs, ctx):
        raise AgentFailure(f"{ctx.step_key} broke", retryable=False)

    agent = await h.agent("broken", broken)
    wf = await h.workflow(
        [
            step("z_first", agent_id=agent.id, position=1),
            step("a_second", agent_id=agent.id, position=2),
        ]
    )
    execution = await h.run(wf)
    assert execution.error_message == "step 'z_first' failed: z_first broke"
    runs = await h.runs(execution.id)
    assert runs["a_second"].error == "a_second broke"  # it finished too: its own outcome is kept
