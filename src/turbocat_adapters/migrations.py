"""Numbered SQL migration files: finding them, checksumming them, and planning what to apply.

Both SQL stores use this; each runs the plan its own way (PostgreSQL under an advisory lock,
SQLite under its write lock), one file per transaction, recording ``(version, name,
checksum, applied_at)`` in ``schema_migrations``. Migrations are forward-only: a file that
changed after it was applied is an error, never silently re-run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Final

from turbocat_adapters.store_contract import MigrationError, MigrationState

_FILE: Final = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
HISTORY: Final = (
    "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    def failed(self, detail: object) -> MigrationError:
        return MigrationError(f"migration {self.version:04d}_{self.name} failed: {detail}")


@dataclass(frozen=True, slots=True)
class Applied:
    version: int
    name: str
    checksum: str
    applied_at: datetime


def discover(package: str) -> list[Migration]:
    """The ``NNNN_name.sql`` files of ``package`` (e.g. ``turbocat_adapters.postgres.migrations``),
    in version order; ``MigrationError`` for a misnamed file or a repeated version."""
    found: dict[int, Migration] = {}
    for entry in resources.files(package).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migration files have version {version:04d}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


def plan(migrations: list[Migration], applied: list[Applied]) -> list[Migration]:
    """The migrations still to apply, in order; ``MigrationError`` if history disagrees."""
    by_version = {migration.version: migration for migration in migrations}
    for row in applied:
        migration = by_version.get(row.version)
        if migration is None:
            raise MigrationError(
                f"the database has migration {row.version:04d}_{row.name}, which this version "
                "of Turbocat does not know (is the code older than the database?)"
            )
        if migration.checksum != row.checksum:
            raise MigrationError(
                f"migration {row.version:04d}_{row.name} changed after it was applied; "
                "migrations are forward-only: add a new file instead"
            )
    done = {row.version for row in applied}
    return [migration for migration in migrations if migration.version not in done]


def status(migrations: list[Migration], applied: list[Applied]) -> list[MigrationState]:
    """Every known migration with whether it was applied and is unchanged."""
    rows = {row.version: row for row in applied}
    states = []
    for migration in migrations:
        row = rows.get(migration.version)
        states.append(
            MigrationState(
                version=migration.version,
                name=migration.name,
                applied_at=row.applied_at if row else None,
                checksum_ok=row is None or row.checksum == migration.checksum,
            )
        )
    return states
