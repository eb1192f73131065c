"""The PostgreSQL store: a psycopg pool, units of work over it, migrations and a ping."""

from __future__ import annotations

import asyncio
from typing import Final

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from turbocat_adapters.postgres import migrator, nul
from turbocat_adapters.postgres.errors import SERVICE, translate
from turbocat_adapters.postgres.session import Connection
from turbocat_adapters.postgres.uow import PostgresUnitOfWork
from turbocat_adapters.sql.sessions import SessionPorts
from turbocat_adapters.store_contract import MigrationState, Store
from turbocat_core.errors import ExternalServiceError

CONNECT_TIMEOUT: Final = 5  # seconds, unless the DSN says otherwise
POOL_TIMEOUT: Final = 10.0  # how long a unit of work waits for a free connection
PING_TIMEOUT: Final = 2.0


def _milliseconds(seconds: float | None) -> int:
    """A PostgreSQL timeout setting (``0`` turns it off)."""
    return 0 if not seconds or seconds <= 0 else max(1, round(seconds * 1000))


def session_conninfo(
    dsn: str, *, lock_timeout: float | None, statement_timeout: float | None
) -> str:
    """``dsn`` plus the session settings every connection starts with (no round trip):
    UTC times, the lock and statement timeouts, and a connect timeout."""
    params = conninfo_to_dict(dsn)
    options = [
        str(params.get("options") or ""),
        "-c TimeZone=UTC",
        f"-c lock_timeout={_milliseconds(lock_timeout)}",
        f"-c statement_timeout={_milliseconds(statement_timeout)}",
    ]
    params["options"] = " ".join(option for option in options if option)
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    params.setdefault("application_name", "turbocat")
    return make_conninfo("", **params)


class PostgresStore(SessionPorts):
    """A connection pool opened by ``open()``, units of work over it, migrations (on a
    connection of their own) and a ping bounded by ``PING_TIMEOUT``.

    Every connection starts with ``TimeZone=UTC``, ``lock_timeout`` (beyond it ``Conflict``)
    and ``statement_timeout`` (``None``: none) in seconds.
    """

    kind = "postgres"

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        lock_timeout: float = 10.0,
        statement_timeout: float | None = 30.0,
    ) -> None:
        self._conninfo = session_conninfo(
            dsn, lock_timeout=lock_timeout, statement_timeout=statement_timeout
        )
        # Migrations may wait long for each other and build indexes for long.
        self._migration_conninfo = session_conninfo(dsn, lock_timeout=None, statement_timeout=None)
        self._lock_timeout = lock_timeout
        self._min_size = min_size
        self._max_size = max_size
        self._pool: AsyncConnectionPool[Connection] | None = None

    @property
    def pool(self) -> AsyncConnectionPool[Connection]:
        if self._pool is None:
            raise RuntimeError("open() the PostgreSQL store before using it")
        return self._pool

    async def open(self) -> None:
        """Start the pool (connections are made in the background: see ``ping``)."""
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            self._conninfo,
            connection_class=AsyncConnection[DictRow],
            kwargs={
                "row_factory": dict_row,
                "autocommit": True,  # units of work BEGIN lazily
                "context": nul.adapters(),  # NUL characters under a reversible escape
            },
            min_size=self._min_size,
            max_size=self._max_size,
            timeout=POOL_TIMEOUT,
            name="turbocat",
            open=False,
        )
        await pool.open(wait=False)
        self._pool = pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def pool_stats(self) -> dict[str, int] | None:
        """psycopg_pool's figures (``pool_size``, ``pool_available``, ``requests_waiting``...);
        ``None`` while the store is closed. Read by the metrics at scrape time."""
        return self._pool.get_stats() if self._pool is not None else None

    def unit_of_work(self) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(lambda: self.pool)

    async def migrate(self) -> list[MigrationState]:
        return await migrator.migrate(self._migration_conninfo, _milliseconds(self._lock_timeout))

    async def migration_status(self) -> list[MigrationState]:
        return await migrator.migration_status(self._migration_conninfo)

    async def ping(self) -> None:
        """``SELECT 1`` on a pooled connection, or ``ExternalServiceError`` soon."""
        pool = self.pool
        try:
            async with asyncio.timeout(PING_TIMEOUT):
                conn = await pool.getconn(timeout=PING_TIMEOUT)
                try:
                    await conn.execute(b"SELECT 1", prepare=False)
                finally:
                    await pool.putconn(conn)
        except TimeoutError:
            raise ExternalServiceError(
                "PostgreSQL did not answer in time", service=SERVICE
            ) from None
        except psycopg.Error as error:
            raise translate(error) from None


def _is_store(store: PostgresStore) -> Store:
    """Never called: mypy checks here that the PostgreSQL store is a ``Store``."""
    return store
