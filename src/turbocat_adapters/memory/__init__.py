"""In-memory adapters: a transactional store and the other storage-like ports, in process.

Shipped for people embedding Turbocat and for tests; they behave like the real adapters
(copies on read and write, uniqueness, soft delete, ordering, paging, rollback).
"""

from __future__ import annotations

from turbocat_adapters.memory.claims import MemoryClaims
from turbocat_adapters.memory.clock import ManualClock
from turbocat_adapters.memory.services import (
    MemoryOneTimeTokens,
    MemoryRateLimiter,
    MemoryReplayGuard,
    MemorySessionStore,
)
from turbocat_adapters.memory.store import MemoryStore
from turbocat_adapters.memory.tasks import InProcessCancellation, InProcessQueue
from turbocat_adapters.memory.uow import MemoryUnitOfWork

__all__ = [
    "InProcessCancellation",
    "InProcessQueue",
    "ManualClock",
    "MemoryClaims",
    "MemoryOneTimeTokens",
    "MemoryRateLimiter",
    "MemoryReplayGuard",
    "MemorySessionStore",
    "MemoryStore",
    "MemoryUnitOfWork",
]
