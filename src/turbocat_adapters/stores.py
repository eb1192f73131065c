"""Storage backends as the composition root sees them, and choosing one from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from turbocat_core import ports
from turbocat_core.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class MigrationState:
    """One migration file and whether (and when) it was applied."""

    version: int
    name: str
    applied_at: datetime | None
    checksum_ok: bool = True
    """False when the file changed after it was applied (an error: migrations are forward-only)."""


class Store(Protocol):
    """A place the repositories live: the in-memory store, a SQLite file or PostgreSQL.

    ``open`` connects (a pool, a file) and, for the embedded SQLite store, migrates;
    ``unit_of_work`` is the ``UnitOfWorkFactory`` of the core; ``ping`` raises
    ``ExternalServiceError`` while the store is unreachable; ``close`` releases everything.
    """

    kind: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def unit_of_work(self) -> ports.UnitOfWork: ...

    async def migrate(self) -> list[MigrationState]:
        """Apply every pending migration; the ones it applied (``MigrationError`` if a file
        that was applied has changed since)."""
        ...

    async def migration_status(self) -> list[MigrationState]: ...

    async def ping(self) -> None: ...

    def session_store(self, clock: ports.Clock) -> ports.SessionStore:
        """Login sessions kept in this store (so they survive restarts where it does)."""
        ...

    def one_time_tokens(self, clock: ports.Clock) -> ports.OneTimeTokens:
        """Single-use tokens (password resets) kept in this store."""
        ...

    def replay_guard(self, clock: ports.Clock) -> ports.ReplayGuard:
        """Keys accepted once within a time to live (signed webhooks) kept in this store."""
        ...


class MigrationError(Exception):
    """The migrations cannot be applied as they are (e.g. an applied file was edited)."""


SQLITE_FILE = "turbocat.db"


def build_store(database_url: str | None, data_dir: Path) -> Store:
    """The store ``TURBOCAT_DATABASE_URL`` names (not opened yet).

    No URL: the embedded SQLite file ``<data_dir>/turbocat.db``. ``memory://``: in this
    process only. ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (the
    rule SQLAlchemy, DBOS and others follow: three slashes, then the path), or the short
    ``sqlite:relative/path.db`` and ``sqlite:/absolute/path.db``: that file.
    ``postgresql://…`` (or ``postgres://…``): PostgreSQL, which needs ``turbocat[postgres]``.
    Anything else is a ``ValidationFailed`` naming the variable.
    """
    if database_url is None:
        return _sqlite(data_dir / SQLITE_FILE)
    url = database_url.strip()
    if url == "memory://":
        from turbocat_adapters.memory import MemoryStore

        return MemoryStore()
    if url.startswith("sqlite:"):
        return _sqlite(sqlite_path(url))
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from turbocat_adapters.postgres import PostgresStore
        except ImportError:
            raise ValidationFailed.field(
                "TURBOCAT_DATABASE_URL",
                "PostgreSQL needs the driver: pip install 'turbocat[postgres]'",
            ) from None
        return PostgresStore(url)
    raise ValidationFailed.field(
        "TURBOCAT_DATABASE_URL",
        "must be postgresql://…, sqlite:///path/to/file.db or memory://",
    )


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:`` URL names: ``sqlite:///runs.db`` is ``runs.db`` (relative to
    the working directory), ``sqlite:////var/lib/runs.db`` is ``/var/lib/runs.db``;
    ``sqlite:runs.db`` and ``sqlite:/var/lib/runs.db`` say the same without the slashes."""
    rest = url.removeprefix("sqlite:")
    if rest.startswith("//"):
        rest = rest.removeprefix("//")
        if rest and not rest.startswith("/"):
            raise ValidationFailed.field(
                "TURBOCAT_DATABASE_URL",
                f"{url!r} names a host; a SQLite file is sqlite:///relative/path.db "
                "or sqlite:////absolute/path.db",
            )
        rest = rest.removeprefix("/")
    if not rest:
        raise ValidationFailed.field("TURBOCAT_DATABASE_URL", "sqlite: needs a file path")
    return Path(rest)


def _sqlite(path: Path) -> Store:
    from turbocat_adapters.sqlite import SqliteStore

    return SqliteStore(path)


def redact(database_url: str | None) -> str:
    """A database URL safe to print: the password replaced by ``***``."""
    if not database_url:
        return "(embedded SQLite)"
    scheme, sep, rest = database_url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return database_url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
