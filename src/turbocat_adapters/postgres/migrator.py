"""Applying the numbered SQL migrations once each, under an advisory lock, tracked by checksum."""

from __future__ import annotations

from typing import Final

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row

from turbocat_adapters.migrations import HISTORY, Applied, Migration, discover, plan, status
from turbocat_adapters.postgres.errors import translated
from turbocat_adapters.store_contract import MigrationState

PACKAGE: Final = "turbocat_adapters.postgres.migrations"
MIGRATION_LOCK: Final = 0x747572626F636174  # b"turbocat": the advisory lock key of migrate()

CREATE_HISTORY: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
HISTORY_EXISTS: Final = "SELECT to_regclass('schema_migrations') IS NOT NULL AS present"
RECORD_MIGRATION: Final = """
INSERT INTO schema_migrations (version, name, checksum)
VALUES (%(version)s, %(name)s, %(checksum)s)
RETURNING applied_at"""
LOCK: Final = "SELECT pg_advisory_lock(%(key)s)"
UNLOCK: Final = "SELECT pg_advisory_unlock(%(key)s)"


async def _connect(conninfo: str) -> psycopg.AsyncConnection[DictRow]:
    with translated():
        return await psycopg.AsyncConnection.connect(
            conninfo, autocommit=True, row_factory=dict_row
        )


async def _history(conn: psycopg.AsyncConnection[DictRow]) -> list[Applied]:
    cursor = await conn.execute(HISTORY)
    return [
        Applied(row["version"], row["name"], row["checksum"], row["applied_at"])
        for row in await cursor.fetchall()
    ]


async def _apply(conn: psycopg.AsyncConnection[DictRow], migration: Migration) -> MigrationState:
    """One file and its history row in one transaction: both or neither."""
    try:
        async with conn.transaction():
            # No parameters: sent as a simple query, so the file may hold many statements.
            await conn.execute(migration.sql.encode("utf-8"), prepare=False)
            cursor = await conn.execute(
                RECORD_MIGRATION,
                {
                    "version": migration.version,
                    "name": migration.name,
                    "checksum": migration.checksum,
                },
            )
            row = await cursor.fetchone()
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise
    except psycopg.Error as error:
        detail = error.diag.message_primary or type(error).__name__
        raise migration.failed(detail) from None
    assert row is not None
    return MigrationState(migration.version, migration.name, row["applied_at"])


async def migrate(conninfo: str, lock_timeout_ms: int) -> list[MigrationState]:
    """Apply every pending migration; the ones applied (``MigrationError`` if history and
    files disagree). Processes migrating at once wait for each other on an advisory lock,
    so each file is applied exactly once."""
    migrations = discover(PACKAGE)
    conn = await _connect(conninfo)
    try:
        with translated():
            # Wait as long as another migrator needs, then bound each DDL lock wait.
            await conn.execute(LOCK, {"key": MIGRATION_LOCK})
            await conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}".encode())
            await conn.execute(CREATE_HISTORY)
            pending = plan(migrations, await _history(conn))
            return [await _apply(conn, migration) for migration in pending]
    finally:
        with translated():
            if not conn.broken and conn.info.transaction_status == TransactionStatus.IDLE:
                await conn.execute(UNLOCK, {"key": MIGRATION_LOCK})
            await conn.close()  # would release the lock too


async def migration_status(conninfo: str) -> list[MigrationState]:
    migrations = discover(PACKAGE)
    conn = await _connect(conninfo)
    try:
        with translated():
            cursor = await conn.execute(HISTORY_EXISTS)
            row = await cursor.fetchone()
            applied = await _history(conn) if row and row["present"] else []
    finally:
        with translated():
            await conn.close()
    return status(migrations, applied)
