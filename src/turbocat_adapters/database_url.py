"""``TURBOCAT_DATABASE_URL``: the SQLite file it names, and a form safe to print."""

from __future__ import annotations

from pathlib import Path

from turbocat_core.errors import ValidationFailed

SQLITE_FILE = "turbocat.db"
"""The embedded store's file in the data directory, when no URL is set."""


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
