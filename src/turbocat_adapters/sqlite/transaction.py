"""One unit of work's transaction: reads, writes under the process's write lock, the end."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from turbocat_adapters.sqlite.errors import SERVICE
from turbocat_adapters.sqlite.worker import BEGIN_WRITE
from turbocat_core.errors import Conflict, ExternalServiceError

if TYPE_CHECKING:
    from turbocat_adapters.sqlite.store import SqliteStore

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]


class Transaction:
    """The state of one unit of work, shared by its repositories.

    The transaction begins lazily, with the first write: the unit of work then waits for
    the store's write lock (an ``asyncio.Lock``: one write transaction at a time per
    process, as there is one writer connection), ``Conflict`` after ``lock_timeout``
    seconds, and that write's call begins ``BEGIN IMMEDIATE``. It holds the lock until
    ``commit()``, ``rollback()`` or the end of ``async with``. Reads inside a write
    transaction go through the writer connection (they see the transaction's own writes);
    reads outside one go through the reader connection and see committed data only (read
    committed, as on PostgreSQL) without waiting for anyone.

    Every repository method is one call on the worker thread; a method that runs several
    statements runs them under a savepoint, so a failing one leaves nothing half-done.
    Inside ``deferred()``, writes whose result nobody reads (``send``) wait and go with the
    next call of this transaction (the next write or read, the end of the block, the
    commit): one hand-off to the worker thread for several writes. A write that fails
    there undoes the whole transaction, and ``commit()`` then refuses until ``rollback()``.
    """

    __slots__ = ("_deferring", "_fresh", "_queued", "aborted", "active", "holding", "store")

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.active = False
        self.holding = False
        self.aborted = False  # a deferred write failed: the transaction was rolled back
        self._fresh = False
        self._deferring = 0
        self._queued: list[Work[Any]] = []

    async def open(self) -> None:
        if self.active:
            raise RuntimeError("this unit of work is already open")
        self.active = True

    async def close(self) -> None:
        try:
            await self.rollback()
        finally:
            self.active = False

    def require(self) -> None:
        if not self.active:
            raise RuntimeError("repositories are only usable inside `async with unit_of_work`")

    async def read(self, work: Work[T], *, snapshot: bool = False) -> T:
        """``work(connection)`` on the worker thread; ``snapshot``: its statements all see
        one state of the database (for a count and a page, say)."""
        worker = self.store.worker
        if self.holding:
            if self._queued:  # the transaction's own writes first, in the same hand-off
                return await self.write(work)
            writer = worker.writer
            return await worker.run(lambda: work(writer))
        reader = worker.reader
        if not snapshot:
            return await worker.run(lambda: work(reader))

        def consistent() -> T:
            reader.execute("BEGIN")
            try:
                return work(reader)
            finally:
                reader.execute("COMMIT")

        return await worker.run(consistent)

    async def send(self, work: Work[object]) -> None:
        """A write whose result nobody reads: inside ``deferred()`` it waits for the next
        call of this transaction; outside, it runs now as ``write`` does."""
        if not self._deferring:
            await self.write(work)
            return
        if not self.holding:
            await self._acquire()
        self._check()
        self._queued.append(work)

    async def write(self, work: Work[T], *, atomic: bool = False) -> T:
        """``work(writer)`` inside this unit of work's write transaction (begun if need be),
        after the writes ``send`` left waiting.

        ``atomic``: ``work`` runs several statements; if one fails, the others are undone
        (a failing single statement undoes itself, and the transaction goes on). Inside
        ``deferred()`` a failure undoes the whole transaction instead.
        """
        worker = self.store.worker
        if not self.holding:
            await self._acquire()
        self._check()
        writer = worker.writer
        fresh, self._fresh = self._fresh, False
        queued, self._queued = self._queued, []
        whole = bool(self._deferring or queued)  # a failure loses the whole transaction

        def call() -> T:
            if fresh and writer.in_transaction:  # left open by a unit of work that vanished
                writer.rollback()
            if not writer.in_transaction:
                writer.execute(BEGIN_WRITE)
            if whole:
                try:
                    for each in queued:
                        each(writer)
                    return work(writer)
                except BaseException:
                    if writer.in_transaction:
                        writer.rollback()
                    raise
            if not atomic:
                return work(writer)
            writer.execute("SAVEPOINT tc_call")
            try:
                result = work(writer)
            except BaseException:
                if writer.in_transaction:
                    writer.execute("ROLLBACK TO tc_call")
                    writer.execute("RELEASE tc_call")
                raise
            writer.execute("RELEASE tc_call")
            return result

        if not whole:
            return await worker.run(call)
        try:
            return await worker.run(call)
        except BaseException:
            self.aborted = True
            raise

    @contextlib.asynccontextmanager
    async def deferred(self) -> AsyncIterator[None]:
        """Writes sent in the block wait for the next call; what still waits at its end
        goes then (an error leaving the block drops it, and the transaction with it)."""
        self._deferring += 1
        try:
            yield
        except BaseException:
            if self._queued:
                self._queued = []
                self.aborted = True
            raise
        finally:
            self._deferring -= 1
        if self._queued and not self._deferring:
            await self.write(_nothing)

    async def commit(self) -> None:
        """Commit the write transaction, if one is open (a failed commit rolls back)."""
        self.require()
        if not self.holding:
            return
        try:
            if self.aborted:  # refused once, as PostgreSQL does; the next one may go on
                self.aborted = False
                raise _aborted()
            worker = self.store.worker
            writer = worker.writer
            fresh, self._fresh = self._fresh, False
            queued, self._queued = self._queued, []

            def call() -> None:
                try:
                    if fresh and writer.in_transaction:  # see ``write``
                        writer.rollback()
                    if queued and not writer.in_transaction:
                        writer.execute(BEGIN_WRITE)
                    for each in queued:
                        each(writer)
                    if writer.in_transaction:
                        writer.execute("COMMIT")
                except BaseException:
                    if writer.in_transaction:
                        writer.rollback()
                    raise

            await worker.run(call)
        finally:
            self._release()  # the call is queued: it runs before any later writer's

    async def rollback(self) -> None:
        self.require()
        self._queued = []
        self.aborted = False
        if not self.holding:
            return
        try:
            worker = self.store.worker
            writer = worker.writer

            def call() -> None:
                if writer.in_transaction:
                    writer.rollback()

            await worker.run(call)
        finally:
            self._release()

    def _check(self) -> None:
        if self.aborted:
            raise _aborted()

    async def _acquire(self) -> None:
        store = self.store
        try:
            async with asyncio.timeout(store.lock_timeout):
                await store.write_lock.acquire()
        except TimeoutError:
            raise Conflict(
                f"waited more than {store.lock_timeout:g}s for another unit of work's write "
                "transaction to end (a coroutine holding one must not write through another "
                "unit of work: it would wait for itself)"
            ) from None
        self.holding = True
        self._fresh = True

    def _release(self) -> None:
        if self.holding:
            self.holding = False
            self.store.write_lock.release()


def _aborted() -> ExternalServiceError:
    return ExternalServiceError(
        "the transaction was aborted by an earlier error and rolled back", service=SERVICE
    )


def _nothing(connection: sqlite3.Connection) -> None:
    """The call that carries the writes still waiting at the end of a ``deferred()`` block."""
