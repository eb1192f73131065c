"""Fault injection as a user's test sees it: scripted failures, hangs and return values for
registered functions, through real runs of a `Turbocat`."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from hypothesis import HealthCheck, find, given, settings

from tests.embedding.workflows import function_step, workflow
from turbocat_adapters import Turbocat, function
from turbocat_adapters.testing import (
    Faults,
    Hang,
    Raise,
    Real,
    Return,
    assert_status,
    attempts,
)
from turbocat_adapters.testing.fault_strategies import faults
from turbocat_core import ExecutionStatus, StepStatus


def runtime(tc: Turbocat | None = None) -> tuple[Turbocat, list[dict]]:
    """A runtime (a test runtime unless given) with a sync ``fetch`` and an async ``load``;
    the list of what ``fetch`` was really called with."""
    tc = tc if tc is not None else Turbocat.for_tests()
    real_calls: list[dict] = []

    @tc.function
    def fetch(inputs: dict, ctx) -> dict:
        real_calls.append(inputs)
        return {"rows": [1, 2, 3]}

    @tc.function
    async def load(inputs: dict, ctx) -> dict:
        return {"loaded": len(inputs["rows"])}

    return tc, real_calls


PIPELINE = workflow(
    "pipeline",
    function_step("fetch", "fetch", inputs={"table": "users"}, retryCount=2, retryDelayMs=1),
    function_step("load", "load", inputs={"rows": "{{fetch.output.rows}}"}, dependsOn=["fetch"]),
)


async def test_a_function_failing_twice_then_succeeding_completes_under_two_retries():
    tc, real_calls = runtime()
    faults = Faults(tc).fail("fetch", times=2)
    async with tc:
        execution = await tc.run(PIPELINE)
    assert_status(execution, "COMPLETED")
    assert attempts(execution) == {"fetch": 3, "load": 1}
    assert execution.output_data == {"fetch": {"rows": [1, 2, 3]}, "load": {"loaded": 3}}
    calls = faults.calls("fetch")
    assert [call.attempt for call in calls] == [1, 2, 3]
    assert [call.outcome for call in calls] == [Raise(), Raise(), Real()]
    assert all(call.inputs == {"table": "users"} for call in calls)
    assert real_calls == [{"table": "users"}]  # the real function ran once, on the third call
    assert faults.pending("fetch") == ()


async def test_failing_more_often_than_the_retries_allow_fails_the_run_with_the_message():
    tc, real_calls = runtime()
    Faults(tc).fail("fetch", times=3, message="connection reset")
    async with tc:
        execution = await tc.run(PIPELINE)
    assert execution.status is ExecutionStatus.FAILED
    assert "InjectedFault: connection reset" in (execution.error_message or "")
    assert attempts(execution) == {"fetch": 3}
    assert real_calls == []


async def test_a_non_retryable_failure_is_not_retried():
    tc, _ = runtime()
    Faults(tc).fail("fetch", retryable=False, message="gone for good")
    async with tc:
        execution = await tc.run(PIPELINE)
    assert execution.status is ExecutionStatus.FAILED
    assert attempts(execution) == {"fetch": 1}
    assert "gone for good" in (execution.error_message or "")


async def test_a_hanging_call_ends_at_the_steps_timeout_and_the_next_call_is_real():
    tc, real_calls = runtime(Turbocat())  # on the wall clock
    faults = Faults(tc).hang("fetch")
    timed = workflow("timed", function_step("fetch", "fetch", timeoutSeconds=0.2))
    async with tc:
        hung = await tc.run(timed, timeout=60)
        again = await tc.run(timed, timeout=60)
    assert hung.status is ExecutionStatus.FAILED
    assert "exceeded its timeout of 0.2 s" in (hung.error_message or "")
    assert real_calls == [{}]
    assert_status(again, "COMPLETED")
    assert [call.outcome for call in faults.calls("fetch")] == [Hang(), Real()]


async def test_on_a_test_runtime_time_skips_while_a_call_hangs():
    tc, _ = runtime()
    Faults(tc).hang("fetch")
    timed = workflow("timed", function_step("fetch", "fetch", timeoutSeconds=1800))
    async with tc:
        execution = await tc.run(timed, timeout=60)  # half an hour of the test clock, not ours
    assert execution.status is ExecutionStatus.FAILED
    assert "exceeded its timeout of 1800 s" in (execution.error_message or "")
    (run,) = execution.step_runs
    assert run.started_at is not None and run.completed_at is not None
    assert (run.completed_at - run.started_at).total_seconds() >= 1800


async def test_a_cancel_interrupts_a_hanging_call():
    tc, _ = runtime(Turbocat.for_tests(time="manual"))  # time stands still: only a cancel
    faults = Faults(tc).hang("load")
    async with tc:
        started = await tc.start(PIPELINE)
        async with asyncio.timeout(60):
            while not faults.calls("load"):  # poll until the hang has begun
                await asyncio.sleep(0.01)
        await tc.cancel(started.id)
        finished = await tc.wait(started.id, timeout=60)
    assert finished.status is ExecutionStatus.CANCELLED
    load = next(run for run in finished.step_runs if run.step_key == "load")
    assert load.status is StepStatus.FAILED
    assert "cancelled" in (load.error or "")


async def test_returns_gives_the_value_without_calling_the_function():
    tc, real_calls = runtime()
    faults = Faults(tc).returns("fetch", {"rows": [9]}, times=2)
    async with tc:
        first = await tc.run(PIPELINE)
        second = await tc.run(PIPELINE)
        third = await tc.run(PIPELINE)
    assert (
        first.output_data == second.output_data == {"fetch": {"rows": [9]}, "load": {"loaded": 1}}
    )
    assert third.output_data["load"] == {"loaded": 3}
    assert len(real_calls) == 1
    assert [call.outcome for call in faults.calls("fetch")] == [
        Return({"rows": [9]}),
        Return({"rows": [9]}),
        Real(),
    ]


async def test_a_returned_value_that_is_not_json_fails_the_step_as_the_engine_says():
    tc, _ = runtime()
    Faults(tc).returns("fetch", {"rows": {1, 2}})
    async with tc:
        execution = await tc.run(PIPELINE)
    assert execution.status is ExecutionStatus.FAILED
    assert "not JSON" in (execution.error_message or "")


async def test_a_plan_scripts_several_functions_and_calls_count_across_runs():
    tc, real_calls = runtime()
    faults = Faults(tc).apply(
        {"fetch": [Real(), Raise("flaky"), Real()], "load": [Return({"loaded": 0})]}
    )
    async with tc:
        first = await tc.run(PIPELINE)
        second = await tc.run(PIPELINE)
    assert first.output_data == {"fetch": {"rows": [1, 2, 3]}, "load": {"loaded": 0}}
    assert attempts(second) == {"fetch": 2, "load": 1}
    assert second.output_data["load"] == {"loaded": 3}
    assert len(faults.calls("fetch")) == 3
    assert len(real_calls) == 2
    assert [call.step_key for call in faults.calls("load")] == ["load", "load"]
    assert {call.execution_id for call in faults.calls("fetch")} == {first.id, second.id}


async def test_reset_forgets_scripts_and_calls():
    tc, real_calls = runtime()
    faults = Faults(tc).fail("fetch", times=5)
    async with tc:
        await tc.run(PIPELINE)
        faults.reset()
        assert faults.calls("fetch") == ()
        execution = await tc.run(PIPELINE)
    assert_status(execution, "COMPLETED")
    assert len(faults.calls("fetch")) == 1
    assert len(real_calls) == 1


def test_a_new_faults_takes_the_runtime_over_and_the_old_script_is_dropped():
    tc, real_calls = runtime()
    old = Faults(tc).fail("fetch", times=5)
    new = Faults(tc)
    assert_status(tc.run_sync(PIPELINE), "COMPLETED")
    assert len(real_calls) == 1
    assert len(new.calls("fetch")) == 1
    assert old.calls("fetch") == ()


def test_scripting_an_unregistered_function_or_a_bad_plan_is_refused():
    tc, _ = runtime()
    faults = Faults(tc)
    with pytest.raises(ValueError, match=r"'fecth' is not registered.*fetch, load"):
        faults.fail("fecth")
    with pytest.raises(ValueError, match="times"):
        faults.fail("fetch", times=-1)
    with pytest.raises(TypeError, match="not a Raise, Hang, Return or Real"):
        faults.apply({"load": [Real()], "fetch": ["boom"]})
    assert faults.pending("load") == ()  # nothing of a refused plan applies


def test_faults_do_not_reach_other_runtimes_sharing_a_process_function():
    name = f"kit_shared_{uuid.uuid4().hex[:8]}"  # one registry per process: a name of its own

    @function(name)
    def shared(inputs: dict, ctx) -> str:
        return "real"

    faulty, calm = Turbocat.for_tests(), Turbocat.for_tests()
    Faults(faulty).returns(name, "fake")
    document = workflow("w", function_step("s", name))
    assert faulty.run_sync(document).output_data == {"s": "fake"}
    assert calm.run_sync(document).output_data == {"s": "real"}


def test_the_strategys_plans_shrink_towards_the_real_function():
    plan = find(faults(["fetch", "load"]), lambda plan: len(plan["fetch"]) >= 2)
    assert plan == {"fetch": (Real(), Real()), "load": ()}
    assert find(faults(["f"], hang=True), lambda plan: Hang() in plan["f"]) == {"f": (Hang(),)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=faults(["fetch"], max_calls=4))
def test_a_step_ends_as_its_plan_says(plan):
    """Four scripted calls at most and four retries: the last attempt is always real."""
    tc, _ = runtime()
    Faults(tc).apply(plan)
    single = workflow("one", function_step("fetch", "fetch", retryCount=4, retryDelayMs=1))
    execution = tc.run_sync(single, timeout=60)
    outcomes = [*plan["fetch"], Real()]
    ended = next(
        i
        for i, outcome in enumerate(outcomes)
        if not (isinstance(outcome, Raise) and outcome.retryable)
    )
    last = outcomes[ended]
    assert attempts(execution) == {"fetch": ended + 1}
    if isinstance(last, Raise):
        assert execution.status is ExecutionStatus.FAILED
    else:
        assert_status(execution, "COMPLETED")
        expected = last.value if isinstance(last, Return) else {"rows": [1, 2, 3]}
        assert execution.output_data == {"fetch": expected}
