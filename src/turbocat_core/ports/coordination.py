"""Running work across processes: the queue of executions, expiring claims, cancellation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from turbocat_core.domain.common import ExecutionId


class JobQueue(Protocol):
    """Hands executions to whatever runs them (in-process tasks, RQ workers)."""

    async def enqueue_execution(
        self, execution_id: ExecutionId, *, at: datetime | None = None
    ) -> None:
        """Run (or resume) the execution, now or at ``at``."""
        ...


class Claims(Protocol):
    """Named claims that expire, shared by every process of a deployment (Redis in a fleet).

    A claim has one holder at a time until it expires or is released. Leases on running
    executions, once-only schedule ticks and "only one process does this now" all use them.
    """

    async def claim(self, name: str, holder: str, ttl: float, *, over: str = "") -> bool:
        """Take ``name`` for ``ttl`` seconds if it is free, already ``holder``'s (renewing
        it), or held by a holder starting with ``over`` (when ``over`` is not empty)."""
        ...

    async def renew(self, name: str, holder: str, ttl: float) -> bool:
        """Extend ``holder``'s claim; ``False`` when it is no longer theirs (or expired)."""
        ...

    async def release(self, name: str, holder: str) -> None:
        """Give the claim up if ``holder`` still holds it (else nothing happens)."""
        ...

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        """The current holder of each name (``None`` where it is free)."""
        ...


class CancellationSignal(Protocol):
    """Tells whoever runs an execution to stop it (same process or another one)."""

    async def request(self, execution_id: ExecutionId) -> None: ...

    async def wait(self, execution_id: ExecutionId) -> None:
        """Return once cancellation of the execution is requested (also if it already was)."""
        ...

    def forget(self, execution_id: ExecutionId) -> None:
        """The execution ended: drop what was kept for it."""
        ...
