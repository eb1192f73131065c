"""The SQLite unit of work: every repository over one transaction of a ``SqliteStore``."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import TYPE_CHECKING, Self

from turbocat_adapters.sql.uow import Repositories
from turbocat_adapters.sqlite.dialect import SqliteConnection
from turbocat_adapters.sqlite.transaction import Transaction
from turbocat_core import ports
from turbocat_core.errors import TurbocatError

if TYPE_CHECKING:
    from turbocat_adapters.sqlite.store import SqliteStore


class SqliteUnitOfWork(Repositories):
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

    async def __aenter__(self) -> Self:
        if self._tx.active:
            raise RuntimeError("this unit of work is already open")
        self._tx.active = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._tx.rollback()
        except TurbocatError:
            if exc is None:  # the store broke: say so, unless an error is on its way already
                raise
        finally:
            self._tx.active = False

    async def commit(self) -> None:
        self._tx.require()
        await self._tx.commit()

    async def rollback(self) -> None:
        self._tx.require()
        await self._tx.rollback()

    def deferred(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Writes whose result nobody reads go to the worker thread together, with the
        block's next call (see ``Transaction``)."""
        return self._tx.deferred()


def _conforms(uow: SqliteUnitOfWork) -> ports.UnitOfWork:
    """Never called: mypy checks here that the class matches the port structurally."""
    return uow
