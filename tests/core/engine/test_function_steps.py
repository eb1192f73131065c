"""FUNCTION steps: Python functions registered in the process, run as AGENT steps are."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from tests.core.builders import step
from tests.core.engine.harness import Harness
from turbocat_core import NonRetryableError
from turbocat_core.domain.execution import ExecutionStatus, LogLevel, StepStatus
from turbocat_core.engine.deps import EngineSettings


async def test_an_async_function_runs_on_the_loop_with_its_context(h: Harness):
    seen: list[Any] = []

    async def total(inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        seen.append((ctx.execution_id, ctx.step_key, ctx.attempt, threading.get_ident()))
        await ctx.log("adding")
        return {"sum": sum(inputs["values"])}

    agent = await h.function_agent("total", total)
    wf = await h.workflow([step("add", agent_id=agent.id, inputs={"values": "{{inputs.values}}"})])
    execution = await h.run(wf, {"values": [1, 2, 3]})
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.output_data == {"add": {"sum": 6}}
    assert seen == [(execution.id, "add", 1, threading.get_ident())]
    line = next(log for log in await h.logs(execution.id) if log.message == "adding")
    assert line.level is LogLevel.INFO and line.step_key == "add" and line.attempt == 1


async def test_a_sync_function_runs_in_a_worker_thread(h: Harness):
    threads: list[int] = []

    def double(inputs: dict[str, Any], ctx: Any) -> list[int]:
        threads.append(threading.get_ident())
        return [2 * value for value in inputs["values"]]

    agent = await h.function_agent("double", double)
    wf = await h.workflow([step("a", agent_id=agent.id, inputs={"values": [1, 2]})])
    execution = await h.run(wf)
    assert execution.output_data == {"a": [2, 4]}
    assert threads and threads[0] != threading.get_ident()


async def test_an_exception_is_retried_per_retry_count_then_fails_the_step(h: Harness):
    attempts: list[int] = []

    def broken(inputs: dict[str, Any], ctx: Any) -> None:
        attempts.append(ctx.attempt)
        raise KeyError("values")

    agent = await h.function_agent("broken", broken)
    wf = await h.workflow([step("a", agent_id=agent.id, retry_count=2, retry_delay_ms=10)])
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.FAILED
    assert attempts == [1, 2, 3]
    run = (await h.runs(execution.id))["a"]
    assert run.status is StepStatus.FAILED and run.error == "KeyError: 'values'"
    warns = [log for log in await h.logs(execution.id) if log.level is LogLevel.WARN]
    assert [w.metadata["errorKind"] for w in warns] == ["error", "error"]


async def test_non_retryable_error_is_not_retried(h: Harness):
    attempts: list[int] = []

    async def refuse(inputs: dict[str, Any], ctx: Any) -> None:
        attempts.append(ctx.attempt)
        raise NonRetryableError("the order was cancelled")

    agent = await h.function_agent("refuse", refuse)
    wf = await h.workflow([step("a", agent_id=agent.id, retry_count=3, retry_delay_ms=10)])
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.FAILED and attempts == [1]
    run = (await h.runs(execution.id))["a"]
    assert run.error == "NonRetryableError: the order was cancelled"


async def test_a_slow_async_function_is_stopped_by_the_step_timeout(h: Harness):
    interrupted = asyncio.Event()

    async def slow(inputs: dict[str, Any], ctx: Any) -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            interrupted.set()
            raise
        return "late"

    agent = await h.function_agent("slow", slow)
    wf = await h.workflow([step("a", agent_id=agent.id, timeout_seconds=0.05)])
    started = time.monotonic()
    execution = await h.run(wf)
    assert time.monotonic() - started < 10 and interrupted.is_set()
    assert execution.status is ExecutionStatus.FAILED
    assert "exceeded its timeout of 0.05 s" in ((await h.runs(execution.id))["a"].error or "")


async def test_cancelling_the_execution_interrupts_a_running_async_function(h: Harness):
    running = asyncio.Event()
    interrupted = asyncio.Event()

    async def forever(inputs: dict[str, Any], ctx: Any) -> None:
        running.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            interrupted.set()
            raise

    agent = await h.function_agent("forever", forever)
    wf = await h.workflow([step("a", agent_id=agent.id)])
    execution = await h.start(h.actor, wf.id)
    await asyncio.wait_for(running.wait(), 10)
    await h.cancel(h.actor, execution.id)
    await asyncio.wait_for(interrupted.wait(), 10)
    await h.queue.drain()
    final = await h.execution(execution.id)
    assert final.status is ExecutionStatus.CANCELLED
    assert (await h.runs(execution.id))["a"].status is StepStatus.FAILED


async def test_a_non_json_return_value_fails_the_step_without_retry(h: Harness):
    attempts: list[int] = []

    def total(inputs: dict[str, Any], ctx: Any) -> Any:
        attempts.append(ctx.attempt)
        return {1, 2, 3}

    async def nested(inputs: dict[str, Any], ctx: Any) -> Any:
        return {"rows": [{"at": object()}]}

    first = await h.function_agent("total", total)
    second = await h.function_agent("nested", nested)
    execution = await h.run(await h.workflow([step("a", agent_id=first.id, retry_count=2)]))
    assert execution.status is ExecutionStatus.FAILED and attempts == [1]
    run = (await h.runs(execution.id))["a"]
    assert run.error == "function 'total' returned a set, which is not JSON"
    execution = await h.run(await h.workflow([step("b", agent_id=second.id)]))
    run = (await h.runs(execution.id))["b"]
    assert run.error == "function 'nested' returned an object at rows.0.at, which is not JSON"


async def test_an_output_over_the_size_limit_fails_the_step():
    h = Harness(settings=EngineSettings(max_step_output_bytes=100))
    try:

        async def big(inputs: dict[str, Any], ctx: Any) -> str:
            return "x" * 200

        agent = await h.function_agent("big", big)
        wf = await h.workflow([step("a", agent_id=agent.id, retry_count=3)])
        execution = await h.run(wf)
        assert execution.status is ExecutionStatus.FAILED
        run = (await h.runs(execution.id))["a"]
        assert run.attempt == 1 and "over the limit of 100 bytes" in (run.error or "")
    finally:
        await h.queue.close()


async def test_a_function_this_process_lacks_fails_the_step_without_retry(h: Harness):
    agent = await h.function_agent("elsewhere")  # saved by a process that had it
    wf = await h.workflow([step("a", agent_id=agent.id, retry_count=3)])
    execution = await h.run(wf)
    run = (await h.runs(execution.id))["a"]
    assert execution.status is ExecutionStatus.FAILED and run.attempt == 1
    assert run.error == "function 'elsewhere' is not registered in this process"


async def test_the_function_cannot_change_the_values_other_steps_read(h: Harness):
    async def scribble(inputs: dict[str, Any], ctx: Any) -> str:
        inputs["values"].append(99)
        return "done"

    agent = await h.function_agent("scribble", scribble)
    wf = await h.workflow([step("a", agent_id=agent.id, inputs={"values": "{{inputs.values}}"})])
    execution = await h.run(wf, {"values": [1]})
    assert execution.output_data == {"a": "done"} and execution.input_data == {"values": [1]}
