"""The embedded store: one SQLite file that a server and CLI commands share."""

from __future__ import annotations

import asyncio
from pathlib import Path

from turbocat_adapters.migrations import discover
from turbocat_adapters.sql.sessions import SessionPorts
from turbocat_adapters.sqlite import migrator
from turbocat_adapters.sqlite.errors import SERVICE
from turbocat_adapters.sqlite.uow import SqliteUnitOfWork
from turbocat_adapters.sqlite.worker import Worker
from turbocat_adapters.store_contract import MigrationState, Store
from turbocat_core.errors import ExternalServiceError


class SqliteStore(SessionPorts):
    """Every repository over one SQLite file (``TURBOCAT_DATA_DIR/turbocat.db`` by default).

    ``open()`` starts one worker thread owning a writer and a reader connection (WAL,
    foreign keys on unless ``foreign_keys=False``, a busy timeout) and migrates; every
    statement runs on that thread. One writer at a time per process, waiting at most
    ``lock_timeout`` seconds; other processes' writers wait ``busy_timeout_ms``.
    """

    kind = "sqlite"

    def __init__(
        self,
        path: Path,
        *,
        lock_timeout: float = 10.0,
        busy_timeout_ms: int = 5000,
        foreign_keys: bool = True,
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.busy_timeout_ms = busy_timeout_ms
        self.foreign_keys = foreign_keys
        self._worker: Worker | None = None
        self._write_lock: asyncio.Lock | None = None

    @property
    def worker(self) -> Worker:
        """The open store's worker (``ExternalServiceError`` when the store is not open)."""
        if self._worker is None:
            raise ExternalServiceError("the SQLite store is not open", service=SERVICE)
        return self._worker

    @property
    def write_lock(self) -> asyncio.Lock:
        """Held by the unit of work whose write transaction is open (one at a time)."""
        if self._write_lock is None:
            raise ExternalServiceError("the SQLite store is not open", service=SERVICE)
        return self._write_lock

    async def open(self) -> None:
        """Connect and migrate; a no-op if already open."""
        if self._worker is not None:
            return
        worker = Worker(
            self.path, busy_timeout_ms=self.busy_timeout_ms, foreign_keys=self.foreign_keys
        )
        worker.start()
        self._worker = worker
        self._write_lock = asyncio.Lock()
        try:
            await worker.run(worker.connect)
            await self.migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connections and stop the worker thread (idempotent)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.stop()

    def unit_of_work(self) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self)

    async def migrate(self) -> list[MigrationState]:
        """Apply pending migrations (open does it too); the ones this call applied."""
        worker = self.worker
        async with self.write_lock:  # the writer connection is this process's only writer

            def call() -> list[MigrationState]:
                return migrator.migrate(worker.writer, discover(migrator.PACKAGE))

            return await worker.run(call)

    async def migration_status(self) -> list[MigrationState]:
        worker = self.worker

        def call() -> list[MigrationState]:
            return migrator.state(worker.reader, discover(migrator.PACKAGE))

        return await worker.run(call)

    async def ping(self) -> None:
        """``ExternalServiceError`` unless the file is there and answers a query."""
        worker = self.worker
        path = self.path

        def call() -> None:
            if not path.exists():
                raise ExternalServiceError(f"the SQLite file {path} is gone", service=SERVICE)
            worker.reader.execute("SELECT count(*) FROM schema_migrations").fetchone()

        await worker.run(call)


def _is_store(store: SqliteStore) -> Store:
    """Never called: mypy checks here that the SQLite store is a ``Store``."""
    return store
