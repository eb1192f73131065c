"""What the API answered, counted for the whole deployment."""

from __future__ import annotations

from typing import Protocol

from turbocat_core.domain.api_traffic import MinuteCounts


class ApiUsage(Protocol):
    """What the API answered, per minute, for the whole deployment (``domain.api_traffic``):
    in this process, or in Redis where the deployment's processes share it."""

    def record(self, status: int, seconds: float) -> None:
        """One answered request (cheap and non-blocking: called for every request)."""
        ...

    async def last_minutes(self, minutes: int) -> MinuteCounts:
        """The counts of the current minute and the ``minutes - 1`` before it, added up."""
        ...
