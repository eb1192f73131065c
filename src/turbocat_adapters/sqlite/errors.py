"""Driver errors translated at the edge: ``sqlite3.Error`` never leaves this package."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Final

from turbocat_adapters.sql.errors import LABELS, dangling, duplicate, refused, required
from turbocat_core.errors import Conflict, ExternalServiceError, ValidationFailed

if TYPE_CHECKING:
    from turbocat_core.errors import TurbocatError

SERVICE: Final = "sqlite"

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
    """The Turbocat error for a driver error; busy past the timeout is a ``Conflict``."""
    code: int | None = getattr(error, "sqlite_errorcode", None)
    detail = str(error)
    if code is None:  # raised by the module itself (e.g. a closed connection)
        return ExternalServiceError(f"the SQLite store failed: {detail}", service=SERVICE)
    primary = code & 0xFF
    if primary == sqlite3.SQLITE_CONSTRAINT:
        if code in _CONFLICTS:
            return duplicate(*_columns(detail))
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


def _refused(code: int, detail: str) -> ValidationFailed:
    if code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
        return dangling("reference")
    if code == sqlite3.SQLITE_CONSTRAINT_NOTNULL:
        return required(_columns(detail)[1][0] or "value")
    if code == sqlite3.SQLITE_CONSTRAINT_CHECK:
        return refused(_checked_field(detail))
    return ValidationFailed(f"the store refused the write: {detail}")


def _checked_field(detail: str) -> str:
    """``role`` from ``"CHECK constraint failed: ck_users_role"``."""
    _, _, name = detail.partition(": ")
    for table in sorted(LABELS, key=len, reverse=True):  # "workflow_steps" before "workflows"
        prefix = f"ck_{table}_"
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name or "value"
