"""Several ``RunObserver``\\ s told the same things (metrics and traces, both on)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from turbocat_core.domain.execution import Execution
from turbocat_core.engine.observer import NO_OBSERVER, AttemptScope, RunObserver, RunScope


def observing(observers: Sequence[RunObserver]) -> RunObserver:
    """One observer for ``observers``: nothing, the only one, or a fan-out of them (which
    costs a loop per call, paid only when more than one is on)."""
    if not observers:
        return NO_OBSERVER
    if len(observers) == 1:
        return observers[0]
    return FanOut(tuple(observers))


class FanOut:
    __slots__ = ("_observers",)

    def __init__(self, observers: tuple[RunObserver, ...]) -> None:
        self._observers = observers

    def processing(self, execution: Execution) -> RunScope:
        return _Scopes(tuple(o.processing(execution) for o in self._observers))


class _Scopes:
    __slots__ = ("_scopes",)

    def __init__(self, scopes: tuple[RunScope, ...]) -> None:
        self._scopes = scopes

    def started(self, execution: Execution) -> None:
        for scope in self._scopes:
            scope.started(execution)

    def resumed(self, execution: Execution, *, after_wait: bool) -> None:
        for scope in self._scopes:
            scope.resumed(execution, after_wait=after_wait)

    def attempt(
        self, step_key: str, step_type: str, agent_type: str | None, attempt: int
    ) -> AttemptScope:
        return _Attempts(
            tuple(s.attempt(step_key, step_type, agent_type, attempt) for s in self._scopes)
        )

    def retry_scheduled(self, step_key: str, attempt: int, delay_ms: float) -> None:
        for scope in self._scopes:
            scope.retry_scheduled(step_key, attempt, delay_ms)

    def parked(self, until: datetime) -> None:
        for scope in self._scopes:
            scope.parked(until)

    def finished(self, execution: Execution) -> None:
        for scope in self._scopes:
            scope.finished(execution)

    def ended(self, error: BaseException | None = None) -> None:
        # In reverse: a tracer's scope, begun first, ends last (its span is made current).
        for scope in reversed(self._scopes):
            scope.ended(error)


class _Attempts:
    __slots__ = ("_attempts",)

    def __init__(self, attempts: tuple[AttemptScope, ...]) -> None:
        self._attempts = attempts

    def ended(self, outcome: str, error_kind: str | None = None) -> None:
        for attempt in reversed(self._attempts):
            attempt.ended(outcome, error_kind)
