"""One unit of work's transaction: reads, writes under the process's write lock, the end."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from turbocat_adapters.sqlite.worker import BEGIN_WRITE
from turbocat_core.errors import Conflict

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
    """

    __slots__ = ("_fresh", "active", "holding", "store")

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.active = False
        self.holding = False
        self._fresh = False

    def require(self) -> None:
        if not self.active:
            raise RuntimeError("repositories are only usable inside `async with unit_of_work`")

    async def read(self, work: Work[T], *, snapshot: bool = False) -> T:
        """``work(connection)`` on the worker thread; ``snapshot``: its statements all see
        one state of the database (for a count and a page, say)."""
        worker = self.store.worker
        if self.holding:
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

    async def write(self, work: Work[T], *, atomic: bool = False) -> T:
        """``work(writer)`` inside this unit of work's write transaction (begun if need be).

        ``atomic``: ``work`` runs several statements; if one fails, the others are undone
        (a failing single statement undoes itself, and the transaction goes on).
        """
        worker = self.store.worker
        if not self.holding:
            await self._acquire()
        writer = worker.writer
        fresh, self._fresh = self._fresh, False

        def call() -> T:
            if fresh and writer.in_transaction:  # left open by a unit of work that vanished
                writer.rollback()
            if not writer.in_transaction:
                writer.execute(BEGIN_WRITE)
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

        return await worker.run(call)

    async def commit(self) -> None:
        """Commit the write transaction, if one is open (a failed commit rolls back)."""
        if not self.holding:
            return
        try:
            worker = self.store.worker
            writer = worker.writer

            def call() -> None:
                if writer.in_transaction:
                    try:
                        writer.execute("COMMIT")
                    except BaseException:
                        if writer.in_transaction:
                            writer.rollback()
                        raise

            await worker.run(call)
        finally:
            self._release()  # the call is queued: it runs before any later writer's

    async def rollback(self) -> None:
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
