"""Python functions as steps: retries, non-retryable failures, timeouts, cancellation, and
return values that are not JSON, as a user of `Turbocat` sees them."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from tests.embedding.workflows import function_step, workflow
from turbocat_adapters import Turbocat, function
from turbocat_core import (
    ExecutionStatus,
    InvalidState,
    NonRetryableError,
    StepStatus,
    ValidationFailed,
)


async def test_an_exception_fails_the_attempt_and_the_step_is_retried():
    tc = Turbocat()
    attempts: list[int] = []

    @tc.function
    def flaky(inputs: dict, ctx) -> dict:
        attempts.append(ctx.attempt)
        if len(attempts) < 3:
            raise ConnectionError(f"try {len(attempts)} failed")
        return {"ok": True}

    async with tc:
        execution = await tc.run(
            workflow("w", function_step("flaky", "flaky", retryCount=2, retryDelayMs=1))
        )
        messages = [line.message for line in await tc.logs(execution.id)]
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.output_data == {"flaky": {"ok": True}}
    assert len(attempts) == 3
    assert attempts == sorted(attempts) and len(set(attempts)) == 3
    assert any("ConnectionError: try 1 failed" in message for message in messages)


async def test_retries_spent_the_run_fails_with_the_exception():
    tc = Turbocat()
    calls = 0

    @tc.function
    async def broken(inputs: dict, ctx) -> dict:
        nonlocal calls
        calls += 1
        raise ValueError("bad row 7")

    async with tc:
        execution = await tc.run(
            workflow("w", function_step("broken", "broken", retryCount=1, retryDelayMs=1))
        )
    assert execution.status is ExecutionStatus.FAILED
    assert calls == 2
    assert "ValueError: bad row 7" in (execution.error_message or "")


async def test_non_retryable_error_fails_the_step_without_retrying():
    tc = Turbocat()
    calls = 0

    @tc.function
    async def refuse(inputs: dict, ctx) -> dict:
        nonlocal calls
        calls += 1
        raise NonRetryableError("the invoice is already paid")

    async with tc:
        execution = await tc.run(
            workflow("w", function_step("refuse", "refuse", retryCount=5, retryDelayMs=1))
        )
    assert execution.status is ExecutionStatus.FAILED
    assert calls == 1
    assert "the invoice is already paid" in (execution.error_message or "")


async def test_a_return_value_that_is_not_json_fails_the_step_naming_its_type():
    tc = Turbocat()

    @tc.function
    def tags(inputs: dict, ctx) -> object:
        return {"tags": {"a", "b"}}

    async with tc:
        execution = await tc.run(workflow("w", function_step("tags", "tags", retryCount=3)))
    assert execution.status is ExecutionStatus.FAILED
    assert "a set at tags" in (execution.error_message or "")
    assert "not JSON" in (execution.error_message or "")
    (run,) = execution.step_runs
    assert run.attempt == 1  # not retried


async def test_a_step_past_its_timeout_fails_as_timed_out():
    tc = Turbocat()
    never = asyncio.Event()

    @tc.function
    async def slow(inputs: dict, ctx) -> dict:
        await never.wait()
        return {}

    async with tc:
        execution = await tc.run(
            workflow("w", function_step("slow", "slow", timeoutSeconds=0.2)), timeout=60
        )
    assert execution.status is ExecutionStatus.FAILED
    assert "exceeded its timeout of 0.2 s" in (execution.error_message or "")


async def test_cancel_stops_a_running_function_and_the_run_ends_cancelled():
    tc = Turbocat()
    running = asyncio.Event()
    stopped = asyncio.Event()

    @tc.function
    async def hold(inputs: dict, ctx) -> dict:
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise
        return {}

    async with tc:
        started = await tc.start(workflow("w", function_step("hold", "hold")))
        await asyncio.wait_for(running.wait(), 60)
        cancelled = await tc.cancel(started.id)
        assert cancelled.status is ExecutionStatus.CANCELLED
        finished = await tc.wait(started.id, timeout=60)
        assert stopped.is_set()
        with pytest.raises(InvalidState):
            await tc.cancel(started.id)
    assert finished.status is ExecutionStatus.CANCELLED
    (run,) = finished.step_runs
    assert run.status is StepStatus.FAILED
    assert "cancelled" in (run.error or "")


async def test_cancel_does_not_wait_for_a_sync_function_that_blocks():
    tc = Turbocat()
    running = threading.Event()
    release = threading.Event()

    @tc.function
    def blocking(inputs: dict, ctx) -> dict:
        running.set()
        release.wait(60)
        return {}

    try:
        async with tc:
            started = await tc.start(workflow("w", function_step("blocking", "blocking")))
            await asyncio.to_thread(running.wait, 60)
            await tc.cancel(started.id)
            finished = await tc.wait(started.id, timeout=30)
            assert finished.status is ExecutionStatus.CANCELLED
    finally:
        release.set()


async def test_retry_runs_again_reusing_completed_steps():
    tc = Turbocat()
    calls = {"first": 0, "second": 0}
    fail = True

    @tc.function
    def first(inputs: dict, ctx) -> int:
        calls["first"] += 1
        return 1

    @tc.function
    def second(inputs: dict, ctx) -> int:
        calls["second"] += 1
        if fail:
            raise NonRetryableError("not yet")
        return inputs["x"] + 1

    document = workflow(
        "w",
        function_step("first", "first"),
        function_step("second", "second", inputs={"x": "{{first.output}}"}, dependsOn=["first"]),
    )
    async with tc:
        failed = await tc.run(document)
        assert failed.status is ExecutionStatus.FAILED
        fail = False
        again = await tc.retry(failed.id)
        assert again.status is ExecutionStatus.PENDING
        done = await tc.wait(again.id, timeout=60)
        assert done.status is ExecutionStatus.COMPLETED
        assert done.output_data == {"first": 1, "second": 2}
        assert calls == {"first": 1, "second": 2}
        from_start = await tc.wait((await tc.retry(failed.id, from_start=True)).id, timeout=60)
        assert from_start.status is ExecutionStatus.COMPLETED
        assert calls == {"first": 2, "second": 3}
        with pytest.raises(InvalidState):
            await tc.retry(done.id)


async def test_a_workflow_naming_an_unregistered_function_is_refused_before_running():
    tc = Turbocat()

    @tc.function
    def known(inputs: dict, ctx) -> int:
        raise AssertionError("must not run")

    document = workflow(
        "w", function_step("one", "known"), function_step("two", "missing", dependsOn=["one"])
    )
    async with tc:
        with pytest.raises(ValidationFailed) as caught:
            await tc.start(document)
    error = caught.value
    assert "'two'" in error.message and "'missing'" in error.message
    assert error.details[0].field.startswith("steps.1")


async def test_an_agent_naming_an_unregistered_function_is_reported_at_its_steps():
    tc = Turbocat()
    document = {
        "name": "w",
        "agents": {"adder": {"type": "FUNCTION", "config": {"function": "add"}}},
        "steps": [{"stepKey": "first", "agent": "adder"}, {"stepKey": "again", "agent": "adder"}],
    }
    async with tc:
        with pytest.raises(ValidationFailed) as caught:
            await tc.run(document)
    fields = [detail.field for detail in caught.value.details]
    assert fields == ["steps.0", "steps.1"]
    assert "step 'first' calls function 'add', which is not registered" in caught.value.message


def test_registering_two_functions_under_one_name_is_refused():
    tc = Turbocat()

    @tc.function("same")
    def one(inputs: dict, ctx) -> int:
        return 1

    with pytest.raises(ValueError, match="already registered"):

        @tc.function("same")
        def two(inputs: dict, ctx) -> int:
            return 2

    # (the process's ``@function`` functions, other tests' among them, are listed too)
    assert tc.functions.count("same") == 1
    execution = tc.run_sync(workflow("one name", function_step("s", "same")))
    assert execution.status is ExecutionStatus.COMPLETED


def test_wrapped_functions_are_called_through_the_wrapper_until_unwrapped():
    tc, other = Turbocat(), Turbocat()
    name = f"process_{uuid.uuid4().hex[:8]}"  # one registry per process: a name of its own

    @tc.function
    def own(inputs: dict, ctx) -> str:
        return "own"

    @function(name)
    def shared(inputs: dict, ctx) -> str:
        return "shared"

    seen: list[tuple[str, object]] = []

    def wrapper(called: str, fn):
        seen.append((called, fn))

        async def instead(inputs: dict, ctx) -> str:
            return f"wrapped {await asyncio.to_thread(fn, inputs, ctx)}"

        return instead

    document = workflow("w", function_step("a", "own"), function_step("b", name))
    tc.wrap_functions(wrapper)
    assert tc.run_sync(document).output_data == {"a": "wrapped own", "b": "wrapped shared"}
    assert sorted(seen, key=lambda pair: pair[0] != "own") == [("own", own), (name, shared)]
    assert other.run_sync(workflow("w", function_step("b", name))).output_data == {"b": "shared"}
    tc.wrap_functions(None)
    assert tc.run_sync(document).output_data == {"a": "own", "b": "shared"}
    with pytest.raises(ValueError, match="callable"):
        tc.wrap_functions("not a wrapper")  # type: ignore[arg-type]


def test_unknown_settings_are_refused_by_name():
    with pytest.raises(TypeError, match="max_step_bytes"):
        Turbocat(max_step_bytes=10)
    with pytest.raises(TypeError, match="url argument"):
        Turbocat(database_url="memory://")
    with pytest.raises(TypeError, match="takes int"):
        Turbocat(max_step_output_bytes="big")
    with pytest.raises(ValidationFailed, match="url"):
        Turbocat("mysql://db")


async def test_settings_apply_to_the_runs():
    tc = Turbocat(max_step_output_bytes=100)

    @tc.function
    def big(inputs: dict, ctx) -> str:
        return "x" * 1000

    async with tc:
        execution = await tc.run(workflow("w", function_step("big", "big")))
    assert execution.status is ExecutionStatus.FAILED
    assert "100" in (execution.error_message or "")
