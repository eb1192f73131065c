"""The PostgreSQL unit of work: every repository over one pooled connection's transaction."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import TYPE_CHECKING, Self

import psycopg

from turbocat_adapters.postgres.errors import translated
from turbocat_adapters.postgres.session import COMMIT, ROLLBACK, Session
from turbocat_adapters.sql.uow import Repositories
from turbocat_core import ports
from turbocat_core.errors import TurbocatError

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from turbocat_adapters.postgres.session import Connection
    from turbocat_adapters.postgres.store import PostgresStore


class PostgresUnitOfWork(Repositories):
    """The port's unit of work (its contract: ``ports.RunUnitOfWork``) on one connection
    taken from the pool.

    ``async with`` takes a connection (``pool.getconn``, never ``pool.connection()``, which
    would commit on a clean exit) and leaving gives it back. A refused write (``Conflict``,
    ``ValidationFailed``) undoes only itself. Driver errors come out as ``TurbocatError``s.
    """

    __slots__ = ("_pool", "_session", "_store")

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._pool: AsyncConnectionPool[Connection] | None = None  # the one lent the connection
        session = self._session = Session()
        super().__init__(session)

    async def __aenter__(self) -> Self:
        if self._session.conn is not None:
            raise RuntimeError("this unit of work is already open")
        pool = self._store.pool
        with translated():
            self._session.conn = await pool.getconn()
        self._pool = pool
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session
        conn, pool = session.conn, self._pool
        if conn is None or pool is None:
            return
        try:
            try:
                await session.finish(ROLLBACK)
            except BaseException as error:
                # Closing it rolls back too (server side); the pool replaces it.
                with contextlib.suppress(psycopg.Error):
                    await conn.close()
                if not isinstance(error, TurbocatError):
                    raise
        finally:
            session.conn = self._pool = None
            await pool.putconn(conn)

    async def commit(self) -> None:
        await self._session.finish(COMMIT)

    async def rollback(self) -> None:
        await self._session.finish(ROLLBACK)

    def deferred(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The block's statements go in one pipeline without savepoints (see
        ``Session.deferred``)."""
        return self._session.deferred()


def _conforms(uow: PostgresUnitOfWork) -> ports.UnitOfWork:
    """Never called: mypy checks here that the class matches the port structurally."""
    return uow
