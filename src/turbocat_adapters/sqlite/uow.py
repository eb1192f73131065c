"""The SQLite unit of work: every repository over one transaction of a ``SqliteStore``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbocat_adapters.sql.uow import SqlUnitOfWork
from turbocat_adapters.sqlite.dialect import SqliteConnection
from turbocat_adapters.sqlite.transaction import Transaction

if TYPE_CHECKING:
    from turbocat_adapters.sqlite.store import SqliteStore


class SqliteUnitOfWork(SqlUnitOfWork):
    """One SQLite transaction, begun at the first write; from then on it holds the store's
    write lock (``Conflict`` for other writers after ``lock_timeout``), so a coroutine holding
    it must not write through a second unit of work of the same store."""

    __slots__ = ("_tx",)

    def __init__(self, store: SqliteStore) -> None:
        tx = self._tx = Transaction(store)
        super().__init__(SqliteConnection(tx))

    @property
    def _transaction(self) -> Transaction:
        return self._tx
