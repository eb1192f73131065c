"""The test runtime's clock: time skips when every run waits on it, and only then."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from turbocat_adapters import Turbocat
from turbocat_adapters.testing.clock import VirtualClock
from turbocat_core.domain.execution import ExecutionStatus, StepStatus

HOUR = 3600
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def flaky(failures: int) -> Any:
    calls: list[dict[str, Any]] = []

    def fn(inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        calls.append(inputs)
        if len(calls) <= failures:
            raise RuntimeError(f"call {len(calls)} fails")
        return {"calls": len(calls)}

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def long_workflow() -> dict[str, Any]:
    """A 1-hour WAIT, then a function that fails three times, retried after 10 minutes
    (backoff doubles, and is capped at 5 minutes: docs/engine.md)."""
    return {
        "name": "long",
        "timeoutSeconds": 3 * HOUR,
        "steps": [
            {"stepKey": "wait", "stepType": "WAIT", "config": {"durationMs": HOUR * 1000}},
            {
                "stepKey": "work",
                "function": "work",
                "dependsOn": ["wait"],
                "retryCount": 3,
                "retryDelayMs": 600_000,
            },
        ],
    }


def test_an_hour_of_waiting_and_retries_takes_well_under_a_second():
    tc = Turbocat.for_tests(start=START)
    tc.function("work")(flaky(3))
    began = time.perf_counter()
    execution = tc.run_sync(long_workflow())
    wall = time.perf_counter() - began
    assert execution.status is ExecutionStatus.COMPLETED
    assert wall < 1.0
    runs = {run.step_key: run for run in execution.step_runs}
    assert runs["work"].attempt == 4
    assert execution.output_data == {"wait": {"waitedMs": HOUR * 1000}, "work": {"calls": 4}}
    # Timestamps read as if the time had passed: the hour, then three backoffs of 5 minutes
    # (less the jitter: at most 10% each).
    assert runs["wait"].completed_at is not None and runs["work"].completed_at is not None
    assert runs["wait"].completed_at - START >= timedelta(hours=1)
    assert runs["work"].completed_at - runs["wait"].completed_at >= timedelta(minutes=13)
    assert execution.completed_at is not None and execution.started_at is not None
    assert execution.completed_at - execution.started_at < timedelta(hours=3)
    assert tc.clock.skipped >= HOUR + 13 * 60


def test_the_run_deadline_is_on_the_skipping_clock():
    tc = Turbocat.for_tests()
    workflow = {
        "name": "late",
        "timeoutSeconds": 60,
        "steps": [{"stepKey": "wait", "stepType": "WAIT", "config": {"durationMs": HOUR * 1000}}],
    }
    execution = tc.run_sync(workflow, timeout=30)
    assert execution.status is ExecutionStatus.TIMEOUT
    assert execution.completed_at is not None and execution.started_at is not None
    assert timedelta(seconds=60) <= execution.completed_at - execution.started_at
    assert execution.completed_at - execution.started_at < timedelta(seconds=61)


def order_and_attempts(execution: Any) -> tuple[list[str], dict[str, tuple[StepStatus, int]]]:
    runs = sorted(execution.step_runs, key=lambda run: (run.started_at or START, run.step_key))
    return [run.step_key for run in runs], {r.step_key: (r.status, r.attempt) for r in runs}


def racing_workflow(scale_ms: int) -> dict[str, Any]:
    """Branches whose order is decided by time alone: waits of 1, 2 and 3 units, retries."""
    return {
        "name": "race",
        "steps": [
            {"stepKey": "w3", "stepType": "WAIT", "config": {"durationMs": 3 * scale_ms}},
            {"stepKey": "w1", "stepType": "WAIT", "config": {"durationMs": 1 * scale_ms}},
            {"stepKey": "w2", "stepType": "WAIT", "config": {"durationMs": 2 * scale_ms}},
            {
                "stepKey": "after1",
                "function": "work",
                "dependsOn": ["w1"],
                "retryCount": 2,
                "retryDelayMs": scale_ms // 4,
            },
            {"stepKey": "after2", "function": "other", "dependsOn": ["w2"]},
            {"stepKey": "last", "function": "other", "dependsOn": ["w3", "after1", "after2"]},
        ],
    }


def test_skipping_time_changes_nothing_but_the_wall_time():
    """The same workflow on the wall clock (waits of a quarter second) and on the skipping
    clock (waits of hours): same final states, same step order, same attempts."""

    def run(tc: Turbocat, scale_ms: int) -> Any:
        tc.function("work")(flaky(2))
        tc.function("other")(lambda inputs, ctx: {"ok": True})
        return tc.run_sync({**racing_workflow(scale_ms), "timeoutSeconds": 86_400}, timeout=60)

    wall = run(Turbocat(), 250)
    skipped = run(Turbocat.for_tests(), HOUR * 1000)
    assert wall.status is skipped.status is ExecutionStatus.COMPLETED
    assert order_and_attempts(wall) == order_and_attempts(skipped)
    runs = {run.step_key: run for run in skipped.step_runs}
    for key, hours in (("w1", 1), ("w2", 2), ("w3", 3)):
        run = runs[key]
        assert run.started_at is not None and run.completed_at is not None
        assert run.completed_at - run.started_at >= timedelta(hours=hours)
        assert run.completed_at - run.started_at < timedelta(hours=hours, seconds=5)


def test_time_does_not_skip_while_a_function_works():
    """A function working (in a thread) beside a 1-hour WAIT: the WAIT ends after it."""
    tc = Turbocat.for_tests()
    finished: list[str] = []

    @tc.function
    def slow(inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        time.sleep(0.2)  # real work in a worker thread, not waiting for a state
        finished.append("slow")
        return {}

    workflow = {
        "name": "beside",
        "timeoutSeconds": 7200,
        "steps": [
            {"stepKey": "slow", "function": "slow"},
            {"stepKey": "wait", "stepType": "WAIT", "config": {"durationMs": HOUR * 1000}},
        ],
    }
    execution = tc.run_sync(workflow)
    runs = {run.step_key: run for run in execution.step_runs}
    assert execution.status is ExecutionStatus.COMPLETED
    assert runs["slow"].completed_at is not None and runs["wait"].completed_at is not None
    assert runs["slow"].completed_at < runs["wait"].completed_at


def test_a_timeout_fires_in_real_time_while_an_agent_works_and_at_once_when_it_only_waits():
    tc = Turbocat.for_tests()

    @tc.function
    async def hangs(inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    @tc.function
    async def waits(inputs: dict[str, Any], ctx: Any) -> dict[str, Any]:
        with tc.clock.skippable():
            await asyncio.Event().wait()
        return {}

    def workflow(function: str, timeout: float) -> dict[str, Any]:
        step = {"stepKey": "s", "function": function, "timeoutSeconds": timeout}
        return {"name": function, "steps": [step]}

    began = time.perf_counter()
    hung = tc.run_sync(workflow("hangs", 0.3))
    assert time.perf_counter() - began >= 0.3
    waited = tc.run_sync(workflow("waits", 1800))
    for execution in (hung, waited):
        assert execution.status is ExecutionStatus.FAILED
        assert "timeout" in (execution.step_runs[0].error or "")
    assert tc.clock.skipped >= 1799


async def test_manual_time_moves_only_when_advanced():
    tc = Turbocat.for_tests(time="manual", start=START)
    workflow = {
        "name": "manual",
        "steps": [{"stepKey": "wait", "stepType": "WAIT", "config": {"durationMs": 60_000}}],
    }
    async with tc:
        started = await tc.start(workflow)
        await tc.clock.idle()
        assert (await tc.get(started.id)).status is ExecutionStatus.RUNNING
        await tc.clock.advance(59)
        assert (await tc.get(started.id)).status is ExecutionStatus.RUNNING
        await tc.clock.advance(1)
        execution = await tc.wait(started.id, timeout=30)
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.completed_at == START + timedelta(seconds=60)


async def test_runs_queued_behind_a_concurrency_limit_skip_with_the_run_ahead():
    tc = Turbocat.for_tests(start=START)
    workflow = {
        "name": "one at a time",
        "concurrencyLimit": 1,
        "timeoutSeconds": 7200,
        "steps": [{"stepKey": "wait", "stepType": "WAIT", "config": {"durationMs": HOUR * 1000}}],
    }
    async with tc:
        first = await tc.start(workflow)
        second = await tc.start(workflow)
        done = [await tc.wait(first.id, timeout=30), await tc.wait(second.id, timeout=30)]
    assert [e.status for e in done] == [ExecutionStatus.COMPLETED] * 2
    assert done[0].completed_at is not None and done[1].started_at is not None
    assert done[1].started_at >= done[0].completed_at
    assert done[1].completed_at is not None
    assert done[1].completed_at - START >= timedelta(hours=2)


async def test_the_clock_fires_timers_in_due_order_and_forgets_cancelled_ones():
    clock = VirtualClock("manual", start=START)
    fired: list[str] = []
    clock.call_later(2, lambda: fired.append("b"))
    clock.call_later(1, lambda: fired.append("a"))
    clock.call_later(1.5, lambda: fired.append("never")).cancel()
    await clock.advance(-5)
    assert clock.now() == START and fired == []
    await clock.advance(3)
    assert fired == ["a", "b"]
    assert clock.now() == START + timedelta(seconds=3)


async def test_advancing_lets_each_due_time_act_before_the_next():
    """A 1-hour WAIT under a 2-hour run deadline, and time advanced 3 hours at once: the
    WAIT comes due first, so the run completes (it does not time out)."""
    tc = Turbocat.for_tests(time="manual", start=START)
    workflow = {
        "name": "in one go",
        "timeoutSeconds": 7200,
        "steps": [{"stepKey": "wait", "stepType": "WAIT", "config": {"durationMs": HOUR * 1000}}],
    }
    async with tc:
        started = await tc.start(workflow)
        await tc.clock.advance(3 * HOUR)
        execution = await tc.get(started.id)
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.completed_at == START + timedelta(hours=1)
    assert tc.clock.now() == START + timedelta(hours=3)


async def test_skippable_outside_work_leaves_skipping_on():
    tc = Turbocat.for_tests(start=START)
    with tc.clock.skippable():  # in the test's own code, not in a step's agent
        pass
    workflow = {
        "name": "after",
        "timeoutSeconds": 7200,
        "steps": [{"stepKey": "wait", "stepType": "WAIT", "config": {"durationMs": HOUR * 1000}}],
    }
    async with tc:
        execution = await tc.run(workflow, timeout=30)
    assert execution.status is ExecutionStatus.COMPLETED


def test_a_clock_mode_is_skip_or_manual():
    with pytest.raises(ValueError, match="skip"):
        VirtualClock("fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="aware"):
        VirtualClock(start=datetime(2026, 1, 1))
