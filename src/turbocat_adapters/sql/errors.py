"""What a write the schema refuses says, alike on every SQL store: the drivers only tell
which table, columns or constraint."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from turbocat_adapters.sql.schema import TABLES
from turbocat_core.errors import AlreadyExists, ValidationFailed

LABELS: Final = {name: table.label for name, table in TABLES.items()} | {
    "sessions": "session",
    "one_time_tokens": "one-time token",
    "schema_migrations": "migration",
}


def duplicate(table: str, columns: Iterable[str]) -> AlreadyExists:
    """``a user with this email already exists``, never SQL nor the values."""
    label = LABELS.get(table, "row")
    article = "an" if label[0] in "aeiAEI" else "a"  # "a user", "a one-time token"
    what = " and ".join(column.replace("_", " ") for column in columns if column)
    return AlreadyExists(f"{article} {label} with this {what or 'key'} already exists")


def dangling(field: str) -> ValidationFailed:
    return ValidationFailed.field(field, "refers to a row that does not exist")


def refused(field: str) -> ValidationFailed:
    return ValidationFailed.field(field, "value not allowed")


def required(field: str) -> ValidationFailed:
    return ValidationFailed.field(field, "is required")
