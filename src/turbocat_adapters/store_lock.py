"""One embedded runtime per store: a lock held while a ``Turbocat`` is open (docs/embedding.md).

On SQLite, an exclusive ``flock`` on a sidecar file (``<file>.lock``, holding the holder's
pid); on PostgreSQL, a session advisory lock on a connection of its own, kept for the
runtime's life. The operating system and the server release both when the process dies,
even by SIGKILL, so a crashed program never leaves its store locked.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from turbocat_core.errors import Conflict

if TYPE_CHECKING:
    from psycopg import AsyncConnection

EMBEDDED_LOCK: Final = 0x7475726263617445  # b"turbcatE": not the migrations' key
_HOLDER_SQL: Final = """
SELECT a.pid, a.application_name, a.client_addr::text AS client
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND ((l.classid::bigint << 32) | l.objid::bigint) = %(key)s
"""
APPLICATION: Final = "turbocat embedded"


class StoreInUse(Conflict):
    """Another embedded runtime has this store open (``store`` names it, ``holder`` says
    which process: a pid, and on PostgreSQL its host)."""

    def __init__(self, store: str, holder: str) -> None:
        super().__init__(
            f"{store} is already open in another embedded Turbocat ({holder}); one program "
            "at a time runs a store's embedded runs (docs/embedding.md, Two processes, one store)"
        )
        self.store = store
        self.holder = holder


class StoreLock(Protocol):
    async def acquire(self) -> None:
        """Take the lock, or raise ``StoreInUse``."""
        ...

    async def release(self) -> None: ...


class NoLock:
    """The in-memory store: nothing else can see it."""

    async def acquire(self) -> None:
        return None

    async def release(self) -> None:
        return None


class FileLock:
    """An exclusive ``flock`` on ``<database file>.lock`` (not removed afterwards: removing
    it would race with the next opener)."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    async def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreInUse(f"the SQLite file {self.database}", f"pid {holder}") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd

    async def release(self) -> None:
        import fcntl

        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class AdvisoryLock:
    """``pg_try_advisory_lock`` on a dedicated connection, named after this process so that
    a refused program can say which one holds the lock."""

    def __init__(self, dsn: str, shown_as: str) -> None:
        self.dsn = dsn
        self.shown_as = shown_as
        self._conn: AsyncConnection[Any] | None = None

    async def acquire(self) -> None:
        import psycopg

        name = f"{APPLICATION} pid {os.getpid()} on {socket.gethostname()}"[:63]
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, application_name=name, connect_timeout=10
            )
        except psycopg.Error as error:
            from turbocat_core.errors import ExternalServiceError

            raise ExternalServiceError(
                f"cannot connect to {self.shown_as}: {type(error).__name__}", service="postgres"
            ) from None
        try:
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (EMBEDDED_LOCK,))
            row = await cursor.fetchone()
            if row is None or not row[0]:
                cursor = await conn.execute(_HOLDER_SQL, {"key": EMBEDDED_LOCK})
                held = await cursor.fetchone()
                holder = str(held[1] or f"backend {held[0]}") if held else "a process now gone"
                raise StoreInUse(f"the PostgreSQL database {self.shown_as}", holder)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()  # the session's advisory locks end with it
