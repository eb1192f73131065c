"""The connection of one open unit of work: every statement of the repositories runs here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, LiteralString, TypeAlias, TypeVar

import psycopg
from psycopg import AsyncConnection, AsyncCursor, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, tuple_row

from turbocat_adapters.metrics.prometheus import DB_QUERY_DURATION
from turbocat_adapters.postgres.dialect import POSTGRES
from turbocat_adapters.postgres.errors import SERVICE, translate, translated
from turbocat_adapters.sql.connection import Result, Row, Script
from turbocat_core.errors import ExternalServiceError, TurbocatError

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

Connection: TypeAlias = AsyncConnection[DictRow]
Cursor: TypeAlias = AsyncCursor[DictRow]
Query: TypeAlias = LiteralString | sql.Composed
Params: TypeAlias = Mapping[str, Any]
Pool: TypeAlias = "Callable[[], AsyncConnectionPool[Connection]]"  # the open store's pool
T = TypeVar("T")

_BEGIN: Final = b"BEGIN"
_SAVEPOINT: Final = b"SAVEPOINT turbocat"
_RELEASE: Final = b"RELEASE SAVEPOINT turbocat"
_UNDO: Final = b"ROLLBACK TO SAVEPOINT turbocat; RELEASE SAVEPOINT turbocat"
_IDLE: Final = TransactionStatus.IDLE
_INERROR: Final = TransactionStatus.INERROR
COMMIT: Final = b"COMMIT"
ROLLBACK: Final = b"ROLLBACK"
# Statement latency, from sending to the last row read (turbocat_db_query_duration_seconds).
_READ = DB_QUERY_DURATION.labels("read")
_WRITE = DB_QUERY_DURATION.labels("write")
_BATCH = DB_QUERY_DURATION.labels("batch")
_END = DB_QUERY_DURATION.labels("commit")


class Session:
    """One unit of work's connection while it is open, and the one way statements run.

    The connection is in autocommit mode and the transaction begins lazily, with the first
    write (its ``BEGIN`` in the same round trip). Reads before that run on their own: under
    READ COMMITTED every statement takes its own snapshot inside a transaction too, so this
    changes nothing a caller can see, and a unit of work that only reads costs one round
    trip per read and none to end. Writes run inside a savepoint sent in one pipeline with
    the statement, so a refused
    write (``Conflict``, ``ValidationFailed``) leaves the transaction as it was before and
    usable, as the in-memory store does. Reads run as they are (a read that fails, e.g. on
    a timeout, leaves the transaction aborted: later statements raise
    ``ExternalServiceError`` and ``commit()`` refuses).
    Statements of one unit of work never interleave (a lock), even from several tasks.
    """

    __slots__ = ("_deferring", "_pool", "_pools", "conn", "lock")
    dialect: Final = POSTGRES

    def __init__(self, pool: Pool) -> None:
        self._pools = pool
        self._pool: AsyncConnectionPool[Connection] | None = None  # the one lent ``conn``
        self.conn: Connection | None = None
        self.lock = asyncio.Lock()
        self._deferring: asyncio.Task[Any] | None = None

    async def open(self) -> None:
        """Take a connection from the pool (``pool.getconn``, never ``pool.connection()``,
        which would commit on a clean exit)."""
        if self.conn is not None:
            raise RuntimeError("this unit of work is already open")
        pool = self._pools()
        with translated():
            self.conn = await pool.getconn()
        self._pool = pool

    async def close(self) -> None:
        """Roll back and give the connection back (closed first if that failed: closing
        rolls back too, server side, and the pool replaces it)."""
        conn, pool = self.conn, self._pool
        if conn is None or pool is None:
            return
        try:
            try:
                await self.finish(ROLLBACK)
            except BaseException as error:
                with contextlib.suppress(psycopg.Error):
                    await conn.close()
                if not isinstance(error, TurbocatError):
                    raise
        finally:
            self.conn = self._pool = None
            await pool.putconn(conn)

    async def commit(self) -> None:
        await self.finish(COMMIT)

    async def rollback(self) -> None:
        await self.finish(ROLLBACK)

    def _deferred_here(self) -> bool:
        """Inside this task's ``deferred()`` block (which holds the lock already)."""
        return self._deferring is not None and self._deferring is asyncio.current_task()

    def require(self) -> Connection:
        conn = self.conn
        if conn is None:
            raise RuntimeError("use the unit of work inside 'async with'")
        return conn

    async def fetch(self, sql: str, params: Params) -> list[Row]:
        """``Connection.fetch``: the rows of one read, as tuples."""
        conn = self.require()
        query = _query(sql)
        cursor = conn.cursor(row_factory=tuple_row)
        if self._deferred_here():
            await cursor.execute(query, params)
            return await cursor.fetchall()
        async with self.lock:
            with translated(), _READ.time():
                await cursor.execute(query, params)
                return await cursor.fetchall()

    async def change(self, sql: str, params: Params) -> int:
        """``Connection.change``: one statement in a savepoint; the rows it changed."""
        return (await self.write(_query(sql), params)).rowcount

    async def send(self, sql: str, params: Params) -> None:
        await self.write(_query(sql), params)

    async def run(self, script: Script[T], *, write: bool) -> T:
        """``Connection.run``: the script's statements in one pipeline and savepoint (each
        result the script reads is one round trip); reads outside a transaction as they
        are, one statement at a time (nothing to protect there)."""
        conn = self.require()
        if not write and not self._deferred_here() and conn.info.transaction_status == _IDLE:
            async with self.lock:
                with translated(), _READ.time():
                    return await _drive(script, conn, pipelined=False)
        async with self.savepoint(reads=not write) as conn:
            return await _drive(script, conn, pipelined=True)

    async def write(self, query: Query, params: Params) -> Cursor:
        """One statement in a savepoint; its cursor (``rowcount``, rows it returned)."""
        async with self.savepoint() as conn:
            cursor = await conn.execute(query, params)
        return cursor

    @contextlib.asynccontextmanager
    async def savepoint(self, *, reads: bool = False) -> AsyncIterator[Connection]:
        """Statements sent in one pipeline inside a savepoint: all of them or none.

        Begins the transaction if none is open, unless the block only ``reads`` (then,
        outside a transaction, there is nothing to protect). The block may fetch results
        midway (that syncs the pipeline). Any error undoes everything the block did and
        leaves the transaction usable.
        """
        conn = self.require()
        if self._deferred_here():
            yield conn  # already in the block's pipeline and transaction
            return
        async with self.lock:
            if reads and conn.info.transaction_status == _IDLE:
                with translated():
                    async with conn.pipeline():
                        yield conn
                return
            try:
                with _WRITE.time():
                    async with conn.pipeline():
                        if conn.info.transaction_status == _IDLE:
                            await conn.execute(_BEGIN, prepare=False)
                        await conn.execute(_SAVEPOINT, prepare=False)
                        yield conn
                        await conn.execute(_RELEASE, prepare=False)
            except psycopg.Error as error:
                await _undo(conn)
                raise translate(error) from None
            except BaseException:
                await _undo(conn)
                raise

    @contextlib.asynccontextmanager
    async def deferred(self) -> AsyncIterator[None]:
        """Every statement of the block in one pipeline, in the transaction (begun if need
        be), without a savepoint each: only statements whose results are read wait for the
        server. Any error aborts the transaction (``commit()`` then refuses) and leaves the
        block as a ``TurbocatError``. ``finish`` inside the block goes in the pipeline too:
        a journal commit is then two round trips (one to read the log lines' numbers, one
        for the rest and ``COMMIT``)."""
        conn = self.require()
        async with self.lock:
            self._deferring = asyncio.current_task()
            try:
                with translated(), _BATCH.time():
                    async with conn.pipeline():
                        if conn.info.transaction_status == _IDLE:
                            await conn.execute(_BEGIN, prepare=False)
                        yield
            finally:
                self._deferring = None

    async def finish(self, command: bytes) -> None:
        """``COMMIT`` or ``ROLLBACK`` (``ROLLBACK`` by query keeps prepared statements,
        which ``connection.rollback()`` would drop)."""
        conn = self.require()
        if self._deferred_here():
            # In the block's pipeline: it goes with the block's last writes, in one round
            # trip, when the block ends (an error of theirs, or of the commit, leaves the
            # block: nothing is committed).
            await conn.execute(command, prepare=False)
            return
        async with self.lock:
            if conn.broken or conn.closed:
                if command == COMMIT:
                    raise ExternalServiceError("the database connection was lost", service=SERVICE)
                return  # the server rolled back what the connection had
            status = conn.info.transaction_status
            if status == _IDLE:
                return
            with translated(), _END.time():
                await conn.execute(command, prepare=False)
            if status == _INERROR and command == COMMIT:
                # PostgreSQL answers COMMIT of an aborted transaction with a rollback.
                raise ExternalServiceError(
                    "the transaction was aborted by an earlier error and rolled back",
                    service=SERVICE,
                )


_NOTHING: Final = Result([], -1)


async def _drive(script: Script[T], conn: Connection, *, pipelined: bool) -> T:
    statement = next(script)
    while True:
        query = _query(statement.sql)
        cursor = conn.cursor(row_factory=tuple_row)
        if statement.many:
            await cursor.executemany(query, statement.params)
            outcome = _NOTHING
        elif statement.quiet:
            await cursor.execute(query, statement.params)
            outcome = _NOTHING
        else:
            if pipelined:
                async with conn.pipeline():  # a nested block: leaving it syncs
                    await cursor.execute(query, statement.params)
            else:
                await cursor.execute(query, statement.params)
            rows = await cursor.fetchall() if cursor.description is not None else []
            outcome = Result(rows, cursor.rowcount)
        try:
            statement = script.send(outcome)
        except StopIteration as stop:
            result: T = stop.value
            return result


def _query(sql: str) -> LiteralString:
    return POSTGRES.sql(sql)


async def _undo(conn: Connection) -> None:
    """Back to the savepoint, if the connection is still in the transaction and usable."""
    if conn.closed or conn.info.transaction_status == _IDLE:
        return
    with contextlib.suppress(psycopg.Error):
        await conn.execute(_UNDO, prepare=False)
