"""The SQLite unit of work: every repository over one transaction of a ``SqliteStore``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from turbocat_adapters.sql.uow import SqlUnitOfWork
from turbocat_adapters.sqlite.dialect import SqliteConnection
from turbocat_adapters.sqlite.transaction import Transaction
from turbocat_core import ports

if TYPE_CHECKING:
    from turbocat_adapters.sqlite.store import SqliteStore


class SqliteUnitOfWork(SqlUnitOfWork):
    """The port's unit of work (its contract: ``ports.RunUnitOfWork``) as one SQLite
    transaction.

    The transaction begins with the first write (reads before it see committed data and
    take no lock); from then on this unit of work holds the store's write lock, so other
    units of work of this process that write wait for it (``Conflict`` after the store's
    ``lock_timeout``), and so do other processes' writers (``Conflict`` after the busy
    timeout), until the commit or the rollback releases it.

    A coroutine that holds a write transaction must not write through a second unit of
    work of the same store: that one would wait for the lock the first one holds, i.e. for
    itself, and fail with ``Conflict`` after ``lock_timeout``. Reading through a second
    unit of work is fine (it sees committed data only).
    """

    __slots__ = ("_tx",)

    def __init__(self, store: SqliteStore) -> None:
        tx = self._tx = Transaction(store)
        super().__init__(SqliteConnection(tx))

    @property
    def _transaction(self) -> Transaction:
        return self._tx


def _conforms(uow: SqliteUnitOfWork) -> ports.UnitOfWork:
    """Never called: mypy checks here that the class matches the port structurally."""
    return uow
