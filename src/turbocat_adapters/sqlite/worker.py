"""The one thread that talks to SQLite, and its two connections to the database file."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from turbocat_adapters.private_files import private_dir, private_file, tighten
from turbocat_adapters.sqlite.errors import SERVICE, translate
from turbocat_core.errors import ExternalServiceError

T = TypeVar("T")

BEGIN_WRITE: Final = "BEGIN IMMEDIATE"
"""Take the write lock up front: a read-then-write transaction never fails to upgrade."""

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


def contains(value: object, needle: object) -> int:
    """SQL ``tc_contains(value, needle)``: is the lower-cased ``needle`` in ``value``?

    Python's ``str.lower()``, so search folds case beyond ASCII exactly as the in-memory
    store does (SQLite's own ``lower()`` and ``LIKE`` only fold ASCII letters).
    """
    if value is None or needle is None:
        return 0
    return int(str(needle) in str(value).lower())


class Worker:
    """A dedicated thread owning the store's connections; ``run`` hands it a function.

    The writer connection is the only one that writes (one transaction at a time, which
    the units of work take turns at); the reader connection (``query_only``) serves reads
    outside a write transaction, so they see committed data only and never wait for a
    writer (WAL). Both live on this thread: the event loop never blocks on SQLite.

    Calls run one at a time, in the order they were handed in, and a call once handed in
    always runs, even if its caller stopped waiting (was cancelled): a commit or rollback is
    never lost, and one queued before the write lock is released runs before the next
    writer's ``BEGIN``. A ``sqlite3.Error`` raised by a call reaches its caller translated
    (``errors.translate``). A small queue and ``call_soon_threadsafe`` cost about a quarter
    of ``loop.run_in_executor`` per call, and every repository call is one of these hops.
    """

    __slots__ = (
        "_closed",
        "_queue",
        "_thread",
        "busy_timeout_ms",
        "foreign_keys",
        "path",
        "reader",
        "writer",
    )
    reader: sqlite3.Connection
    writer: sqlite3.Connection

    def __init__(self, path: Path, *, busy_timeout_ms: int, foreign_keys: bool) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.foreign_keys = foreign_keys
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="turbocat-sqlite", daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def run(self, call: Callable[[], T]) -> T:
        """``call()`` on the worker thread; its result, or its (translated) error."""
        if self._closed:
            raise ExternalServiceError("the SQLite store is closed", service=SERVICE)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((loop, future, call))
        return await future

    async def stop(self) -> None:
        """Close the connections (after every call handed in before), then end the thread."""
        if self._closed:
            return
        try:
            await self.run(self._disconnect)
        finally:
            self._closed = True
            self._queue.put(None)

    # --- on the worker thread ------------------------------------------------------------

    def _serve(self) -> None:
        take = self._queue.get
        while (job := take()) is not None:
            loop, future, call = job
            ok = True
            try:
                outcome = call()
            except sqlite3.Error as error:
                ok, outcome = False, translate(error)
                outcome.__cause__ = error
            except BaseException as error:
                ok, outcome = False, error
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, ok, outcome)

    def connect(self) -> None:
        """Open the writer and the reader and set them up (runs as the first call)."""
        try:
            if not self.path.parent.is_dir():
                private_dir(self.path.parent)
        except OSError as error:
            raise ExternalServiceError(
                f"cannot create the data directory {self.path.parent}: {error.strerror}",
                service=SERVICE,
                retryable=False,
            ) from None
        # Only the server's user reads the database (not a CODE run's uid, for one); an
        # error here is left to sqlite3, which names the file.
        with contextlib.suppress(OSError):
            private_file(self.path)
            for suffix in ("-wal", "-shm"):
                tighten(self.path.with_name(self.path.name + suffix))
        self.writer = self._open()
        mode = self._wal_mode(self.writer)
        if str(mode).lower() != "wal":
            self.writer.close()
            raise ExternalServiceError(
                f"cannot use write-ahead logging for {self.path} (journal mode {mode})",
                service=SERVICE,
                retryable=False,
            )
        self.writer.execute(f"PRAGMA foreign_keys = {'ON' if self.foreign_keys else 'OFF'}")
        self.writer.execute("PRAGMA synchronous = NORMAL")
        self.reader = self._open()
        self.reader.execute("PRAGMA query_only = ON")

    def _wal_mode(self, connection: sqlite3.Connection) -> object:
        """``PRAGMA journal_mode = WAL``, the mode it leaves. While another connection
        opens the same new file, SQLite may answer "database is locked" at once, without
        its busy handler: try again, as the handler would, until the busy timeout."""
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        while True:
            try:
                return connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as error:
                locked = "locked" in str(error) or "busy" in str(error)
                if not locked or time.monotonic() >= deadline:
                    raise
            time.sleep(0.005)  # the other connection holds the file's lock: wait for it

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_ms / 1000,
            isolation_level=None,  # autocommit: transactions are begun explicitly
            check_same_thread=False,
            cached_statements=256,
        )
        connection.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        connection.create_function("tc_contains", 2, contains, deterministic=True)
        return connection

    def _disconnect(self) -> None:
        for name in ("reader", "writer"):
            connection: sqlite3.Connection | None = getattr(self, name, None)
            if connection is not None:
                if connection.in_transaction:
                    connection.rollback()
                connection.close()


def _settle(future: asyncio.Future[Any], ok: bool, outcome: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(outcome)
    else:
        future.set_exception(outcome)
