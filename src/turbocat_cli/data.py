"""`turbocat db migrate|status|reseal|backup|restore` and `turbocat seed`: the configured
store's schema, its encrypted secrets, its backups and seed data."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from turbocat_adapters import backup as backups
from turbocat_adapters.container import Container, close_redis
from turbocat_adapters.database_url import redact
from turbocat_adapters.secrets_file import with_secrets
from turbocat_adapters.settings import Settings
from turbocat_adapters.store_contract import MigrationError, MigrationState, Store
from turbocat_cli import interrupts
from turbocat_core.domain.common import utc_text
from turbocat_core.errors import TurbocatError
from turbocat_core.usecases.reseal import ResealReport
from turbocat_core.usecases.seed import SeedReport

db = typer.Typer(
    help="The database: apply migrations, show their state, back it up and restore it.",
    no_args_is_help=True,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(1)


def load_container(*, secrets: bool = False) -> Container:
    """The container over the configured settings; bad settings end the command in one line.

    With ``secrets``, the JWT secret and encryption key are resolved too (in development,
    read from or written to the data dir), for commands that use the account use cases.
    """
    try:
        settings = Settings.load()
        if secrets:
            settings = with_secrets(settings)
    except TurbocatError as error:
        raise fail(error.message) from None
    container = Container()
    container.settings.override(settings)
    return container


FunctionsOption = Annotated[
    str | None,
    typer.Option(
        help="Modules to import, comma-separated: the functions they decorate with "
        "@function are those FUNCTION steps may name [TURBOCAT_FUNCTIONS].",
        show_default=False,
    ),
]


def set_functions(functions: str | None) -> None:
    """``--functions`` wins over ``TURBOCAT_FUNCTIONS``, in this process and in those it
    starts (a server's worker processes read their settings from the environment)."""
    if functions is not None:
        os.environ["TURBOCAT_FUNCTIONS"] = functions


def import_functions(container: Container) -> str:
    """Import the configured modules now; ``", functions: a, b"`` (the registered ones, for
    the start-up line) or ``""``. A module that cannot be imported ends the command in one
    line naming it."""
    try:
        names = container.functions().names
    except TurbocatError as error:
        raise fail(error.message) from None
    return f", functions: {', '.join(names)}" if names else ""


@asynccontextmanager
async def opened(store: Store) -> AsyncIterator[Store]:
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def run_with_store(container: Container, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the configured store, run ``work``, close it (and the Redis client, if the
    container has one); failures end in one line, a Ctrl-C in ``interrupted``."""

    async def main() -> T:
        try:
            async with opened(container.store()) as store:
                return await work(store)
        finally:
            await close_redis(container)

    try:
        return interrupts.run_async(main())
    except MigrationError as error:
        raise fail(str(error)) from None
    except TurbocatError as error:
        raise fail(error.message) from None


def _where(container: Container) -> str:
    settings = container.settings()
    if settings.database_url is None:
        return f"SQLite {settings.data_dir / 'turbocat.db'}"
    return redact(settings.database_url)


@db.command()
def migrate() -> None:
    """Apply every pending migration (safe to run from several processes at once)."""
    container = load_container()
    with err.status(f"migrating {_where(container)}..."):
        applied = run_with_store(container, lambda store: store.migrate())
    for state in applied:
        out.print(f"applied {state.version:04d}_{state.name}")
    out.print(f"{_where(container)}: up to date" + ("" if applied else " (nothing to apply)"))


@db.command()
def status() -> None:
    """List the migrations and whether each is applied; exit 1 if an applied one changed."""
    container = load_container()
    states: list[MigrationState] = run_with_store(container, lambda s: s.migration_status())
    table = Table(title=_where(container), title_justify="left")
    for column in ("version", "name", "applied"):
        table.add_column(column)
    for state in states:
        applied = (
            utc_text(state.applied_at.replace(microsecond=0)) if state.applied_at else "pending"
        )
        if not state.checksum_ok:
            applied += " (file changed since!)"
        table.add_row(f"{state.version:04d}", state.name, applied)
    out.print(table if states else f"{_where(container)}: no migrations (nothing to store)")
    if any(not state.checksum_ok for state in states):
        raise typer.Exit(1)


@db.command()
def reseal() -> None:
    """Re-encrypt every deployment's secrets with TURBOCAT_ENCRYPTION_KEY (after a rotation).

    Keep the old key in TURBOCAT_PREVIOUS_ENCRYPTION_KEYS while this runs; drop it once
    this reports nothing unreadable. Exits 1 when some value opens with no configured key.
    """
    container = load_container(secrets=True)

    async def work(_store: Store) -> ResealReport:
        return await container.reseal_secrets()()

    with err.status(f"re-encrypting deployment secrets in {_where(container)}..."):
        report = run_with_store(container, work)
    out.print(f"re-encrypted the secrets of {report.resealed} deployment(s)")
    for deployment_id, name in report.unreadable:
        err.print(f"unreadable with every configured key: deployment {deployment_id} {name}")
    if report.unreadable:
        raise typer.Exit(1)


BackupFile = Annotated[Path, typer.Argument(help="The backup file.", show_default=False)]


@db.command()
def backup(file: BackupFile) -> None:
    """Write a backup of the store to FILE (safe while the server runs).

    SQLite: a consistent copy through its online backup API. PostgreSQL: pg_dump in custom
    format (pg_dump must be on the PATH: Debian's postgresql-client).
    """
    settings = load_container().settings()
    try:
        what = backups.backup(settings, file)
    except (backups.BackupError, TurbocatError) as error:
        raise fail(str(error)) from None
    out.print(f"backed up {what} to {file}", highlight=False)


@db.command()
def restore(
    file: BackupFile,
    force: Annotated[
        bool, typer.Option("--force", help="Replace what the target store holds.")
    ] = False,
) -> None:
    """Restore FILE (made by `turbocat db backup`) into the configured store.

    The store must be empty (a new SQLite file or PostgreSQL database, not migrated) unless
    --force. Stop the server and workers first.
    """
    settings = load_container().settings()
    try:
        what = backups.restore(settings, file, force=force)
    except (backups.BackupError, TurbocatError) as error:
        raise fail(str(error)) from None
    out.print(f"restored {file} into {what}", highlight=False)


def seed() -> None:
    """Create the admin, a demo user, example agents and workflows, and official templates.

    Running it again changes nothing. Passwords come from TURBOCAT_SEED_ADMIN_PASSWORD and
    TURBOCAT_SEED_DEMO_PASSWORD, or are generated and printed once.
    """
    container = load_container()
    settings = container.settings()

    async def work(store: Store) -> SeedReport:
        pending = [s for s in await store.migration_status() if s.applied_at is None]
        if pending:
            raise MigrationError(
                f"{len(pending)} migration(s) pending: run `turbocat db migrate` first"
            )
        return await container.seed()(
            admin_password=settings.seed_admin_password,
            demo_password=settings.seed_demo_password,
        )

    with err.status(f"seeding {_where(container)}..."):
        report = run_with_store(container, work)
    for line in report.created:
        out.print(f"created {line}")
    if report.existing:
        out.print(f"{len(report.existing)} item(s) already there, left as they were")
    for email, password in report.passwords.items():
        out.print(f"password for {email}: {password}  (shown once: keep it)", highlight=False)
