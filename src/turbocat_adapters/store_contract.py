"""What the composition root needs of a storage backend: the in-memory store, a SQLite file
or PostgreSQL. Each store implements it; nothing here knows any of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from turbocat_core.ports.clock import Clock
from turbocat_core.ports.security import OneTimeTokens, ReplayGuard, SessionStore
from turbocat_core.ports.storage import UnitOfWork


@dataclass(frozen=True, slots=True)
class MigrationState:
    """One migration file and whether (and when) it was applied."""

    version: int
    name: str
    applied_at: datetime | None
    checksum_ok: bool = True
    """False when the file changed after it was applied (an error: migrations are forward-only)."""


class Store(Protocol):
    """A place the repositories live: the in-memory store, a SQLite file or PostgreSQL.

    ``open`` connects (a pool, a file) and, for the embedded SQLite store, migrates;
    ``unit_of_work`` is the ``UnitOfWorkFactory`` of the core; ``ping`` raises
    ``ExternalServiceError`` while the store is unreachable; ``close`` releases everything.
    """

    kind: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def unit_of_work(self) -> UnitOfWork: ...

    async def migrate(self) -> list[MigrationState]:
        """Apply every pending migration; the ones it applied (``MigrationError`` if a file
        that was applied has changed since)."""
        ...

    async def migration_status(self) -> list[MigrationState]: ...

    async def ping(self) -> None: ...

    def session_store(self, clock: Clock) -> SessionStore:
        """Login sessions kept in this store (so they survive restarts where it does)."""
        ...

    def one_time_tokens(self, clock: Clock) -> OneTimeTokens:
        """Single-use tokens (password resets) kept in this store."""
        ...

    def replay_guard(self, clock: Clock) -> ReplayGuard:
        """Keys accepted once within a time to live (signed webhooks) kept in this store."""
        ...


class MigrationError(Exception):
    """The migrations cannot be applied as they are (e.g. an applied file was edited)."""
