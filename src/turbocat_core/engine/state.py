"""The state of one execution while a process runs it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from turbocat_core.domain.execution import Execution, StepRun
from turbocat_core.domain.workflow import WorkflowStep


class RunState:
    """The execution and each step's latest state, as this processing stored (or is about
    to store) them.

    The run's ``Journal`` is the only writer: it records every transition it stores or
    queues for the next commit, and the execution whenever it changes it; everything else
    reads. So the loop, the steps and the journal always see one execution and one state
    per step.
    """

    __slots__ = ("_execution", "_runs", "steps")

    def __init__(self, execution: Execution, runs: Iterable[StepRun] = ()) -> None:
        self._execution = execution
        self._runs = {run.step_key: run for run in runs}
        self.steps: Mapping[str, WorkflowStep] = {step.step_key: step for step in execution.steps}

    @property
    def execution(self) -> Execution:
        return self._execution

    @property
    def runs(self) -> Mapping[str, StepRun]:
        """Step key -> its latest state (steps not yet started have none)."""
        return self._runs

    # --- for the journal -----------------------------------------------------------------

    def record(self, run: StepRun) -> None:
        self._runs[run.step_key] = run

    def moved(self, execution: Execution) -> None:
        self._execution = execution
