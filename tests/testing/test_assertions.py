"""The assertion helpers on real runs: the status with a failure that explains itself, the
steps that ran in the order they started, and their attempts."""

from __future__ import annotations

import asyncio

import pytest

from tests.embedding.workflows import function_step, workflow
from turbocat_adapters import Turbocat
from turbocat_adapters.testing import Faults, assert_status, attempts, steps_ran
from turbocat_core import ExecutionStatus


def chain_runtime() -> Turbocat:
    tc = Turbocat()

    @tc.function
    def step(inputs: dict, ctx) -> dict:
        return {"after": ctx.step_key}

    return tc


# Listed last to first: the order they ran in is not the order of the file.
CHAIN = workflow(
    "chain",
    function_step("d", "step", dependsOn=["c"]),
    function_step("c", "step", dependsOn=["b"], retryCount=3, retryDelayMs=1),
    function_step("b", "step", dependsOn=["a"]),
    function_step("a", "step"),
)


def test_steps_ran_in_the_order_they_started_with_their_attempts():
    execution = chain_runtime().run_sync(CHAIN)
    assert_status(execution, "COMPLETED")
    assert steps_ran(execution) == ["a", "b", "c", "d"]
    assert attempts(execution) == {"a": 1, "b": 1, "c": 1, "d": 1}


def test_a_failed_status_explains_which_step_failed_how_and_after_how_many_attempts():
    tc = chain_runtime()
    # a and b succeed; c fails on all its four attempts.
    Faults(tc).returns("step", {}, times=2).fail("step", times=4, message="disk full")
    execution = tc.run_sync(CHAIN)
    assert steps_ran(execution) == ["a", "b", "c"]  # d never started
    assert attempts(execution) == {"a": 1, "b": 1, "c": 4}
    assert_status(execution, ExecutionStatus.FAILED)
    assert_status(execution, "failed")
    with pytest.raises(AssertionError) as caught:
        assert_status(execution, "COMPLETED")
    message = str(caught.value)
    assert f"execution {execution.id} is FAILED, expected COMPLETED" in message
    assert "step 'c' failed after 4 attempts: InjectedFault: disk full" in message
    assert "steps ran: a, b, c" in message
    assert "step 'd'" not in message


def test_skipped_steps_and_steps_reused_by_a_retry_did_not_run():
    tc = chain_runtime()
    branching = workflow(
        "branching",
        {
            "stepKey": "check",
            "stepType": "CONDITION",
            "config": {
                "condition": {"left": 1, "operator": "eq", "right": 2},
                "onTrue": ["yes"],
            },
        },
        function_step("yes", "step", dependsOn=["check"]),
        function_step("always", "step"),
    )
    execution = tc.run_sync(branching)
    assert_status(execution, "COMPLETED")
    assert "yes" not in steps_ran(execution)
    assert sorted(steps_ran(execution)) == ["always", "check"]

    faults = Faults(tc).returns("step", {}, times=2).fail("step", retryable=False)
    failed = tc.run_sync(CHAIN)
    assert steps_ran(failed) == ["a", "b", "c"]

    async def retry() -> tuple[list[str], dict[str, int]]:
        async with tc:
            again = await tc.wait((await tc.retry(failed.id)).id, timeout=60)
        assert_status(again, "COMPLETED")
        return steps_ran(again), attempts(again)

    assert asyncio.run(retry()) == (["c", "d"], {"c": 1, "d": 1})
    assert len(faults.calls("step")) == 5


def test_an_unknown_status_is_refused_naming_the_statuses():
    tc = chain_runtime()
    execution = tc.run_sync(CHAIN)
    with pytest.raises(ValueError, match="COMPLETED, FAILED"):
        assert_status(execution, "DONE")
