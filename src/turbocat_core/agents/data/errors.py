"""The one error the DATA agent raises when a run fails."""

from __future__ import annotations

from turbocat_core.agents.failures import AgentFailure, FailureKind


class DataError(AgentFailure):
    """A DATA run failed on its data or config; never retryable (the same input fails again)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind=FailureKind.ERROR, retryable=False)
