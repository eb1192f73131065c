"""Backups of the configured store: SQLite through its online backup API (a consistent copy
while the server writes), PostgreSQL through ``pg_dump``/``pg_restore`` in custom format.

A restore goes into an empty store (a new SQLite file, a new PostgreSQL database, not
migrated) unless told to replace what is there: a restore over live data by mistake is
the one thing a backup tool must not make easy.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from turbocat_adapters.database_url import SQLITE_FILE, sqlite_path
from turbocat_adapters.settings import Settings

PG_PACKAGE = "postgresql-client"


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why in one line."""


def _target(settings: Settings) -> tuple[str, Path | str]:
    """``("sqlite", path)`` or ``("postgres", url)``; memory:// and unknown URLs refused."""
    url = (settings.database_url or "").strip()
    if not url:
        return "sqlite", settings.data_dir / SQLITE_FILE
    if url.startswith("sqlite:"):
        return "sqlite", sqlite_path(url)
    if url.startswith(("postgresql://", "postgres://")):
        return "postgres", url
    if url == "memory://":
        raise BackupError(
            "the in-memory store (memory://) keeps nothing once its process ends: "
            "there is nothing to back up or restore"
        )
    raise BackupError("TURBOCAT_DATABASE_URL must be postgresql://… or sqlite:///path")


def backup(settings: Settings, file: Path) -> str:
    """Write a backup of the configured store to ``file``; what was backed up, for a line.

    The backup is written beside ``file`` and renamed into place when whole: a failed or
    interrupted one never leaves a file that looks like a backup.
    """
    kind, where = _target(settings)
    partial = file.with_name(f".{file.name}.partial")
    try:
        _private(partial)
    except OSError as error:
        raise BackupError(f"cannot write {file}: {error.strerror}") from None
    try:
        if kind == "sqlite":
            assert isinstance(where, Path)
            _sqlite_backup(where, partial)
        else:
            assert isinstance(where, str)
            _run(["pg_dump", "--format=custom", f"--file={partial}"], where)
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)
    return f"SQLite {where}" if kind == "sqlite" else "PostgreSQL"


def restore(settings: Settings, file: Path, *, force: bool = False) -> str:
    """Restore ``file`` into the configured store; what was restored into, for a line."""
    if not file.is_file():
        raise BackupError(f"{file}: no such file")
    kind, where = _target(settings)
    if kind == "sqlite":
        assert isinstance(where, Path)
        _sqlite_restore(file, where, force=force)
        return f"SQLite {where}"
    assert isinstance(where, str)
    if _postgres_tables(where) and not force:
        raise BackupError(
            "the target database is not empty: restore into a new database, "
            "or pass --force to replace its tables"
        )
    clean = ["--clean", "--if-exists"] if force else []
    _run(["pg_restore", "--exit-on-error", "--no-owner", *clean, str(file)], where)
    return "PostgreSQL"


def _sqlite_backup(source: Path, file: Path) -> None:
    if not source.is_file():
        raise BackupError(f"no SQLite store at {source}")
    try:
        with closing(_connect(source)) as src, closing(_connect(file)) as dst:
            src.backup(dst)  # a consistent copy, whatever the server commits meanwhile
            # One self-contained file: no -wal/-shm beside it.
            dst.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.Error as error:
        raise BackupError(f"cannot back up {source}: {error}") from None


def _sqlite_restore(file: Path, target: Path, *, force: bool) -> None:
    try:
        with closing(_connect(file)) as src:
            if "schema_migrations" not in _sqlite_tables(src):
                raise BackupError(f"{file} is not a Turbocat SQLite backup")
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                target.touch(mode=0o600)  # as private as the store it becomes
            with closing(_connect(target)) as dst:
                if _sqlite_tables(dst) and not force:
                    raise BackupError(
                        f"{target} is not empty: restore into a new file (set "
                        "TURBOCAT_DATABASE_URL), or pass --force to replace it"
                    )
                src.backup(dst)
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{file} is not a Turbocat SQLite backup ({error})") from None


def _private(file: Path) -> None:
    """An empty file only its owner reads: a backup holds password hashes and sealed secrets."""
    file.unlink(missing_ok=True)
    file.touch(mode=0o600)


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=30)


def _sqlite_tables(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def _postgres_tables(url: str) -> int:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone()
    except psycopg.Error as error:
        raise BackupError(f"cannot connect to the database: {error}".strip()) from None
    return int(row[0]) if row else 0


def _run(command: list[str], url: str) -> None:
    """Run a PostgreSQL client tool on the database ``url`` names; its password goes in the
    environment, not on a command line other users can read."""
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not on the PATH: install PostgreSQL's client tools "
            f"(Debian: apt-get install {PG_PACKAGE})"
        )
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = {**os.environ, "PGPASSWORD": str(password)} if password else None
    dbname = make_conninfo(**{k: str(v) for k, v in params.items()})
    done = subprocess.run(
        [tool, f"--dbname={dbname}", *command[1:]],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupError(f"{tool} failed: {lines[0] if lines else f'exit {done.returncode}'}")
