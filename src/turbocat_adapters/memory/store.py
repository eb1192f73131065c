"""The in-memory store: everything committed, shared by the units of work it hands out."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from turbocat_adapters.memory.services import (
    MemoryOneTimeTokens,
    MemoryReplayGuard,
    MemorySessionStore,
)
from turbocat_adapters.memory.tables import Committed
from turbocat_adapters.memory.uow import MemoryUnitOfWork
from turbocat_adapters.store_contract import MigrationState, Store
from turbocat_core import ports
from turbocat_core.domain.user import local_owner


class MemoryStore(Committed):
    """Everything committed, shared by the units of work it hands out.

    ``store.unit_of_work`` is a ``UnitOfWorkFactory``. It behaves as a database would for
    the ports' contract suites:

    - entities are copied on the way in and on the way out (JSON-like fields only: the
      rest of an entity is immutable); rows are keyed by ``uuid.int``;
    - ids are unique per table, emails in their canonical form (``canonical_email``), step keys
      per workflow, API-key hashes; soft-deleted rows keep their unique keys and stay in
      the store (``peek`` shows them) while reading as absent everywhere else;
    - counters (``record_runs``, ``record_run``, ``add_step_counts``, ``increment_usage``)
      are applied to the committed row at commit, so concurrent transactions all count;
    - saving a step run for an existing (execution, step key) replaces the row but keeps
      the ``id`` and ``created_at`` it was first saved with;
    - appending log lines to an execution locks it until the transaction ends, like a row
      lock: another writer waits (``Conflict`` after ``lock_timeout`` seconds), so ``seq``
      numbers are never shared nor committed out of order;
    - foreign keys are those of the SQLite schema: a write naming a missing parent row
      (soft-deleted parents count) is refused at once with ``ValidationFailed``, and
      checked again at commit against what is committed by then;
    - the built-in local owner (``LOCAL_OWNER_ID``) exists from the start;
    - an update that finds its row deleted by a transaction that committed first is
      dropped at commit (as if it had run before the delete).

    Use it from one event loop: it takes no thread locks.
    """

    def __init__(self, *, lock_timeout: float = 10.0) -> None:
        super().__init__(lock_timeout)
        # replay keys (as the SQL stores' replay_keys table): key -> when it expires
        self.replay_keys: dict[str, float] = {}
        # The built-in local owner, as the SQL stores' migrations insert it.
        self.tables["users"].put(local_owner())

    kind = "memory"

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release (the data goes with the process)."""

    async def migrate(self) -> list[MigrationState]:
        return []  # no schema to migrate

    async def migration_status(self) -> list[MigrationState]:
        return []

    async def ping(self) -> None:
        """Always reachable."""

    def session_store(self, clock: ports.Clock) -> MemorySessionStore:
        return MemorySessionStore(clock)

    def one_time_tokens(self, clock: ports.Clock) -> MemoryOneTimeTokens:
        return MemoryOneTimeTokens(clock)

    def replay_guard(self, clock: ports.Clock) -> MemoryReplayGuard:
        return MemoryReplayGuard(clock, self.replay_keys)

    def unit_of_work(self) -> MemoryUnitOfWork:
        """A fresh unit of work over this store (``UnitOfWorkFactory``)."""
        return MemoryUnitOfWork(self)

    def peek(self, table: str, row_id: UUID) -> Any:
        """The committed row as stored, soft-deleted or not (for tests; do not mutate it)."""
        return self.tables[table].rows.get(row_id.int)


def _conforms(store: MemoryStore) -> ports.UnitOfWorkFactory:
    """Never called: mypy checks here that ``store.unit_of_work`` is a factory of the port."""
    return store.unit_of_work


def _is_store(store: MemoryStore) -> Store:
    """Never called: mypy checks here that the memory store is a ``Store``."""
    return store
