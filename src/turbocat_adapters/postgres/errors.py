"""Driver errors translated at the adapter's edge: no ``psycopg.Error`` leaves this package."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import psycopg
from psycopg import errors as pg

from turbocat_adapters.metrics.prometheus import DB_ERRORS
from turbocat_adapters.sql.errors import dangling, duplicate, refused, required
from turbocat_core.errors import Conflict, ExternalServiceError, TurbocatError, ValidationFailed

SERVICE: Final = "postgres"

# Named checks whose field is not in their name.
_CHECK_FIELDS: Final = {"deployments_one_target": "workflowId"}
_KEY: Final = re.compile(r"Key \(([^)]*)\)=")


def _field_of_check(constraint: str, table: str) -> str:
    """``agents_status_check`` -> ``status`` (PostgreSQL's default check names)."""
    if constraint in _CHECK_FIELDS:
        return _CHECK_FIELDS[constraint]
    return constraint.removeprefix(f"{table}_").removesuffix("_check") or constraint


def translate(error: psycopg.Error) -> TurbocatError:
    """The ``TurbocatError`` of a driver error (the caller raises it ``from None``), counted
    in ``turbocat_db_errors_total`` by what it became."""
    translated = _translate(error)
    DB_ERRORS.labels(type(translated).__name__).inc()
    return translated


def _translate(error: psycopg.Error) -> TurbocatError:
    diag = error.diag
    constraint = diag.constraint_name or ""
    table = diag.table_name or ""
    if isinstance(error, pg.UniqueViolation):
        key = _KEY.match(diag.message_detail or "")  # "Key (email)=(...) already exists."
        return duplicate(table, key.group(1).split(", ") if key else [])
    if isinstance(error, pg.CheckViolation):
        return refused(_field_of_check(constraint, table))
    if isinstance(error, pg.ForeignKeyViolation):
        return dangling(constraint.removeprefix(f"{table}_").removesuffix("_fkey") or "reference")
    if isinstance(error, pg.NotNullViolation):
        return required(diag.column_name or "value")
    if isinstance(error, (pg.LockNotAvailable, pg.DeadlockDetected, pg.SerializationFailure)):
        return Conflict("the row is being changed by another transaction; try again")
    if isinstance(error, (psycopg.DataError, psycopg.IntegrityError)):
        # Malformed values (bad text for a type, out of range, NUL characters, ...).
        return ValidationFailed(f"invalid value ({error.sqlstate or 'rejected by the driver'})")
    if isinstance(error, pg.QueryCanceled):
        return ExternalServiceError("the database took too long to answer", service=SERVICE)
    if isinstance(error, pg.InFailedSqlTransaction):
        return ExternalServiceError(
            "the transaction was aborted by an earlier error; roll back and retry",
            service=SERVICE,
        )
    if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)):
        return ExternalServiceError("the database is unavailable", service=SERVICE)
    return ExternalServiceError(
        f"database error {error.sqlstate or type(error).__name__}",
        service=SERVICE,
        retryable=False,
    )


@contextmanager
def translated() -> Iterator[None]:
    """Run a block of driver calls; a ``psycopg.Error`` comes out as a ``TurbocatError``."""
    try:
        yield
    except psycopg.Error as error:
        raise translate(error) from None
