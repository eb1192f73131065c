"""What the engine tells the outside world about the runs it processes (metrics, traces).

The engine calls an :class:`RunObserver` at the moments an operator cares about; adapters
turn them into Prometheus metrics or OpenTelemetry spans. Nothing here does I/O, and the
default, :data:`NO_OBSERVER`, does nothing at all: an observed step costs two method calls
on shared singletons.

Scopes come in begin/end pairs so a tracer can hold a span open between them:

- :meth:`RunObserver.processing` begins one processing of an unfinished execution (one call
  of ``Engine.run_once``: a run parked on a long WAIT is processed again when it resumes);
  :meth:`RunScope.ended` ends it, whatever happened (finished, parked, held back by its
  workflow's limit, handed back because the process stops, or failed).
- :meth:`RunScope.attempt` begins one attempt of a step, :meth:`AttemptScope.ended` ends it.
  Both are called in the task that runs the attempt, around the agent's call, so a tracer
  may make its span current in between (outbound requests then nest under it). An attempt
  interrupted by a cancel, a timeout of the run or the process stopping ends ``interrupted``.

Observers must not raise: the engine does not guard its calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol

from turbocat_core.domain.execution import Execution

ATTEMPT_COMPLETED: Final = "completed"
ATTEMPT_FAILED: Final = "failed"
"""The step failed for good (no attempt left, or a failure not worth retrying)."""
ATTEMPT_RETRIED: Final = "retried"
"""This attempt failed and another one is scheduled."""
ATTEMPT_INTERRUPTED: Final = "interrupted"
"""Stopped from outside: the run was cancelled, timed out or parked, or its process stops."""


class AttemptScope(Protocol):
    def ended(self, outcome: str, error_kind: str | None = None) -> None:
        """``outcome`` is one of the ``ATTEMPT_*`` values; ``error_kind`` a failure's kind
        (``AgentErrorKind`` value) when the attempt failed."""


class RunScope(Protocol):
    """One processing of one execution (see the module)."""

    def started(self, execution: Execution) -> None:
        """The execution moved PENDING -> RUNNING (``execution.trigger_type`` says why)."""

    def resumed(self, execution: Execution, *, after_wait: bool) -> None:
        """A RUNNING execution is picked up again: after parking on a long WAIT
        (``after_wait``), or after an interruption (its process died or stopped)."""

    def attempt(
        self, step_key: str, step_type: str, agent_type: str | None, attempt: int
    ) -> AttemptScope:
        """An attempt of a step begins (``agent_type``: the agent an AGENT step calls)."""

    def retry_scheduled(self, step_key: str, attempt: int, delay_ms: float) -> None:
        """Attempt ``attempt`` failed; the next one starts in ``delay_ms``."""

    def parked(self, until: datetime) -> None:
        """The run stops holding its worker until ``until`` (every running step is a long
        WAIT); it is queued again for then."""

    def finished(self, execution: Execution) -> None:
        """The execution reached its final status (``status``, ``duration_ms``)."""

    def ended(self, error: BaseException | None = None) -> None:
        """This processing is over; ``error`` when it raised (not a step's failure)."""


class RunObserver(Protocol):
    def processing(self, execution: Execution) -> RunScope:
        """One processing of ``execution`` begins (as stored when it began)."""


class _Nothing:
    """The default: every call does nothing."""

    __slots__ = ()

    def processing(self, execution: Execution) -> _Nothing:
        return self

    def started(self, execution: Execution) -> None:
        pass

    def resumed(self, execution: Execution, *, after_wait: bool) -> None:
        pass

    def attempt(
        self, step_key: str, step_type: str, agent_type: str | None, attempt: int
    ) -> _Nothing:
        return self

    def retry_scheduled(self, step_key: str, attempt: int, delay_ms: float) -> None:
        pass

    def parked(self, until: datetime) -> None:
        pass

    def finished(self, execution: Execution) -> None:
        pass

    def ended(self, *args: object, **kwargs: object) -> None:
        pass


NO_OBSERVER: Final[RunObserver] = _Nothing()
NO_SCOPE: Final[RunScope] = _Nothing()
