"""Fan-out of committed log lines to whoever listens in this process (progress, streams)."""

from __future__ import annotations

from collections.abc import Callable

from turbocat_core.domain.execution import ExecutionLog

Listener = Callable[[ExecutionLog], None]


class LogBroadcast:
    """Call it with a line to tell every subscriber; subscribing returns the unsubscribe."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def __call__(self, line: ExecutionLog) -> None:
        for listener in tuple(self._listeners):
            listener(line)
