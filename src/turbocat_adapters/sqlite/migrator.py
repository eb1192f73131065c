"""Applying the numbered migration files to a SQLite file: once each, under its write lock."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Final

from turbocat_adapters.migrations import HISTORY, Applied, Migration, plan, status
from turbocat_adapters.sqlite.dialect import ts
from turbocat_adapters.store_contract import MigrationError, MigrationState

PACKAGE: Final = "turbocat_adapters.sqlite.migrations"

CREATE_BOOKKEEPING: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""
HAS_BOOKKEEPING: Final = (
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
)
RECORD: Final = (
    "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
    "VALUES (:version, :name, :checksum, :applied_at)"
)


def statements(script: str) -> list[str]:
    """The statements of a SQL script, split where SQLite's own tokenizer says one ends
    (so semicolons in strings, comments and trigger bodies are no trouble)."""
    found: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if _has_code(pending):
                found.append(pending.strip())
            pending = ""
    if pending.strip():
        raise MigrationError("a migration ends with an incomplete statement")
    return found


def _has_code(text: str) -> bool:
    """Whether ``text`` holds more than comments, blanks and semicolons."""
    index, end = 0, len(text)
    while index < end:
        char = text[index]
        if text.startswith("--", index):
            newline = text.find("\n", index)
            index = end if newline < 0 else newline + 1
        elif text.startswith("/*", index):
            close = text.find("*/", index + 2)
            index = end if close < 0 else close + 2
        elif char.isspace() or char == ";":
            index += 1
        else:
            return True
    return False


def applied(connection: sqlite3.Connection) -> list[Applied]:
    """What ``schema_migrations`` records (nothing if the file was never migrated)."""
    if connection.execute(HAS_BOOKKEEPING).fetchone() is None:
        return []
    return [
        Applied(version, name, checksum, datetime.fromisoformat(applied_at))
        for version, name, checksum, applied_at in connection.execute(HISTORY)
    ]


def migrate(connection: sqlite3.Connection, migrations: list[Migration]) -> list[MigrationState]:
    """Apply every pending migration, each in its own ``BEGIN IMMEDIATE`` transaction that
    decides again what is pending, so processes opening one new file apply each once.

    Foreign keys are off (outside the transaction: SQLite ignores the pragma inside one) so
    a migration may rebuild a table others refer to; each file's references are checked
    before it commits.
    """
    enforced = bool(connection.execute("PRAGMA foreign_keys").fetchone()[0])
    connection.execute("PRAGMA foreign_keys = OFF")
    try:
        return _migrate(connection, migrations)
    finally:
        if enforced:
            connection.execute("PRAGMA foreign_keys = ON")


def _migrate(connection: sqlite3.Connection, migrations: list[Migration]) -> list[MigrationState]:
    done: list[MigrationState] = []
    while True:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(CREATE_BOOKKEEPING)
            pending = plan(migrations, applied(connection))
            if not pending:
                connection.execute("COMMIT")
                return done
            migration = pending[0]
            _apply(connection, migration)
            _check_references(connection, migration)
            now = datetime.now(UTC)
            connection.execute(
                RECORD,
                {
                    "version": migration.version,
                    "name": migration.name,
                    "checksum": migration.checksum,
                    "applied_at": ts(now),
                },
            )
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise
        done.append(MigrationState(migration.version, migration.name, now))


def _apply(connection: sqlite3.Connection, migration: Migration) -> None:
    for statement in statements(migration.sql):
        try:
            connection.execute(statement)
        except sqlite3.Error as error:
            raise migration.failed(error) from None


def _check_references(connection: sqlite3.Connection, migration: Migration) -> None:
    broken = connection.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise migration.failed(
            f"{len(broken)} row(s) name a missing {parent} row (first: {table} row {rowid})"
        )


def state(connection: sqlite3.Connection, migrations: list[Migration]) -> list[MigrationState]:
    return status(migrations, applied(connection))
