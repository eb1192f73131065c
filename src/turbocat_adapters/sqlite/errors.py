"""Driver errors translated at the edge: ``sqlite3.Error`` never leaves this package."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Final

from turbocat_adapters.sql.schema import TABLES
from turbocat_core.errors import (
    AlreadyExists,
    Conflict,
    ExternalServiceError,
    FieldError,
    ValidationFailed,
)

if TYPE_CHECKING:
    from turbocat_core.errors import TurbocatError

SERVICE: Final = "sqlite"

LABELS: Final = {name: table.label for name, table in TABLES.items()} | {
    "sessions": "session",
    "one_time_tokens": "one-time token",
    "schema_migrations": "migration",
}
# Longest first, so "workflow_steps" wins over "workflows" when parsing constraint names.
_TABLES: Final = sorted(LABELS, key=len, reverse=True)

_CONFLICTS: Final = frozenset(
    {
        sqlite3.SQLITE_CONSTRAINT_UNIQUE,
        sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY,
        sqlite3.SQLITE_CONSTRAINT_ROWID,
    }
)
_BUSY: Final = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_BROKEN: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def translate(error: sqlite3.Error) -> TurbocatError:
    """The Turbocat error for a driver error (the one helper every statement goes through).

    Unique and primary-key violations are ``AlreadyExists``; CHECK, NOT NULL, foreign-key and
    type violations ``ValidationFailed``; a busy or locked database ``Conflict`` (another
    writer held the lock past the busy timeout: retry); everything else (I/O, a file that
    cannot be opened or is corrupt, a closed connection) ``ExternalServiceError``.
    """
    code: int | None = getattr(error, "sqlite_errorcode", None)
    detail = str(error)
    if code is None:  # raised by the module itself (e.g. a closed connection)
        return ExternalServiceError(f"the SQLite store failed: {detail}", service=SERVICE)
    primary = code & 0xFF
    if primary == sqlite3.SQLITE_CONSTRAINT:
        if code in _CONFLICTS:
            return AlreadyExists(_duplicate(detail))
        return _refused(code, detail)
    if primary == sqlite3.SQLITE_MISMATCH:
        return ValidationFailed(f"a value has the wrong type for the store: {detail}")
    if primary in _BUSY:
        return Conflict("the database is busy with another writer; try again")
    retryable = primary not in _BROKEN and primary != sqlite3.SQLITE_READONLY
    return ExternalServiceError(
        f"the SQLite store failed: {detail}", service=SERVICE, retryable=retryable
    )


def _columns(detail: str) -> tuple[str, list[str]]:
    """``("users", ["email"])`` from ``"UNIQUE constraint failed: users.email"``."""
    _, _, names = detail.partition(": ")
    table = ""
    columns = []
    for qualified in names.split(", "):
        table, _, column = qualified.strip().rpartition(".")
        columns.append(column)
    return table, columns


def _duplicate(detail: str) -> str:
    table, columns = _columns(detail)
    label = LABELS.get(table, "row")
    what = " and ".join(column.replace("_", " ") for column in columns if column)
    return f"a {label} with this {what or 'key'} already exists"


def _refused(code: int, detail: str) -> ValidationFailed:
    if code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
        return ValidationFailed(
            "a referenced row does not exist",
            [FieldError("reference", "names a row that does not exist")],
        )
    if code == sqlite3.SQLITE_CONSTRAINT_NOTNULL:
        _, columns = _columns(detail)
        return ValidationFailed.field(columns[0] or "value", "must not be null")
    if code == sqlite3.SQLITE_CONSTRAINT_CHECK:
        return ValidationFailed.field(_checked_field(detail), "has a value the store refuses")
    return ValidationFailed(f"the store refused the write: {detail}")


def _checked_field(detail: str) -> str:
    """``role`` from ``"CHECK constraint failed: ck_users_role"``."""
    _, _, name = detail.partition(": ")
    for table in _TABLES:
        prefix = f"ck_{table}_"
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name or "value"
