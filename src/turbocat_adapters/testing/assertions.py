"""What a test asks of a finished run (``tc.run`` gives an ``ExecutionWithRuns``): its status,
which steps ran and in what order, how many attempts each took.

A step "ran" in an execution when at least one attempt of it started there: skipped steps,
steps never reached, and steps a retry reused from an earlier execution did not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbocat_core.domain.execution import ExecutionStatus, StepRun, StepStatus

if TYPE_CHECKING:
    from turbocat_core.usecases.executions import ExecutionWithRuns


def assert_status(execution: ExecutionWithRuns, status: ExecutionStatus | str) -> None:
    """Fail unless the execution ended in ``status`` (``"COMPLETED"``, ``"FAILED"``...). The
    failure names the run's error and, for each failed step, its key, its error and its
    attempts, and the steps that ran."""
    __tracebackhide__ = True  # pytest: show the test's line, not this one
    expected = _status(status)
    if execution.status is expected:
        return
    lines = [f"execution {execution.id} is {execution.status}, expected {expected}"]
    if execution.error_message:
        lines[0] += f": {execution.error_message}"
    for run in execution.step_runs:
        if run.status is StepStatus.FAILED:
            lines.append(f"  step {run.step_key!r} failed after {_times(run.attempt)}: {run.error}")
        elif run.status is StepStatus.RUNNING:
            lines.append(f"  step {run.step_key!r} still running (attempt {run.attempt})")
    ran = steps_ran(execution)
    lines.append(f"  steps ran: {', '.join(ran) if ran else 'none'}")
    raise AssertionError("\n".join(lines))


def steps_ran(execution: ExecutionWithRuns) -> list[str]:
    """The keys of the steps that ran in this execution, in the order they started (by their
    start times; steps started at the same instant, as under a test clock that stands still,
    in the order the engine recorded them)."""
    return [run.step_key for run in sorted(_ran(execution), key=_start)]


def attempts(execution: ExecutionWithRuns) -> dict[str, int]:
    """How many attempts each step that ran took: ``{"fetch": 3, "load": 1}``."""
    return {run.step_key: run.attempt for run in _ran(execution)}


def _ran(execution: ExecutionWithRuns) -> list[StepRun]:
    return [
        run
        for run in execution.step_runs
        if run.attempt > 0 and run.started_at is not None and run.reused_from is None
    ]


def _start(run: StepRun) -> tuple[object, int]:
    # A step's record is made when it starts, and its ids (UUIDv7) grow in the order they
    # are made: the tie-break when the clock did not move between two starts.
    return run.started_at, run.id.int


def _status(status: ExecutionStatus | str) -> ExecutionStatus:
    if isinstance(status, ExecutionStatus):
        return status
    try:
        return ExecutionStatus(str(status).upper())
    except ValueError:
        known = ", ".join(ExecutionStatus)
        raise ValueError(f"{status!r} is not an execution status ({known})") from None


def _times(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"
