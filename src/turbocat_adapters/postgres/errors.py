"""Driver errors translated at the adapter's edge: no ``psycopg.Error`` leaves this package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import psycopg
from psycopg import errors as pg

from turbocat_adapters.metrics.prometheus import DB_ERRORS
from turbocat_core.errors import (
    AlreadyExists,
    Conflict,
    ExternalServiceError,
    FieldError,
    TurbocatError,
    ValidationFailed,
)

SERVICE: Final = "postgres"

# Unique constraints by name -> what the AlreadyExists says (never SQL, never the values).
_UNIQUE: Final[dict[str, str]] = {
    "users_pkey": "a user with this id already exists",
    "users_email_key": "a user with this email already exists",
    "agents_pkey": "an agent with this id already exists",
    "workflows_pkey": "a workflow with this id already exists",
    "workflow_steps_pkey": "a step with this id already exists",
    "workflow_steps_workflow_id_step_key_key": "a step with this step key already exists",
    "executions_pkey": "an execution with this id already exists",
    "step_runs_pkey": "a step run with this id already exists",
    "step_runs_execution_id_step_key_key": "a step run for this step already exists",
    "execution_logs_pkey": "a log line with this id already exists",
    "execution_logs_execution_id_seq_key": "a log line with this seq already exists",
    "templates_pkey": "a template with this id already exists",
    "deployments_pkey": "a deployment with this id already exists",
    "api_keys_pkey": "an API key with this id already exists",
    "api_keys_key_hash_key": "an API key with this key hash already exists",
    "audit_logs_pkey": "an audit entry with this id already exists",
    "sessions_pkey": "a session with this id already exists",
    "one_time_tokens_pkey": "a one-time token with this hash already exists",
}

# Named checks whose field is not in their name.
_CHECK_FIELDS: Final[dict[str, str]] = {
    "deployments_one_target": "workflowId",
}


def _field_of_check(constraint: str, table: str) -> str:
    """``agents_status_check`` -> ``status`` (PostgreSQL's default check names)."""
    if constraint in _CHECK_FIELDS:
        return _CHECK_FIELDS[constraint]
    name = constraint.removeprefix(f"{table}_").removesuffix("_check")
    return name or constraint


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
        if constraint in _UNIQUE:
            return AlreadyExists(_UNIQUE[constraint])
        return Conflict("the row conflicts with an existing one")
    if isinstance(error, pg.CheckViolation):
        name = _field_of_check(constraint, table)
        return ValidationFailed(
            f"{name}: value not allowed", [FieldError(name, "value not allowed")]
        )
    if isinstance(error, pg.ForeignKeyViolation):
        name = constraint.removeprefix(f"{table}_").removesuffix("_fkey") or "reference"
        return ValidationFailed(
            f"{name}: refers to a row that does not exist",
            [FieldError(name, "refers to a row that does not exist")],
        )
    if isinstance(error, pg.NotNullViolation):
        name = diag.column_name or "value"
        return ValidationFailed(f"{name}: is required", [FieldError(name, "is required")])
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
