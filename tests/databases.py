"""Test databases: one PostgreSQL database per test process, fresh SQLite files, a way to
open any store kind empty, and Redis key prefixes of their own. PostgreSQL and Redis tests
skip when no server answers, except under CI."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from turbocat_adapters.memory import MemoryStore
from turbocat_adapters.store_contract import Store

ADMIN_DSN = os.environ.get(
    "TURBOCAT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TURBOCAT_TEST_REDIS", "redis://127.0.0.1:6379/0")
STORE_KINDS = ["memory", "sqlite", "postgres"]


def _connect_admin():
    import psycopg

    return psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3)


def postgres_available() -> str | None:
    """Why PostgreSQL cannot be used for tests, or ``None`` when it can."""
    try:
        with _connect_admin() as conn:
            conn.execute("SELECT 1")
    except Exception as error:
        return f"PostgreSQL at {ADMIN_DSN} is not available: {error}"
    return None


def require_postgres() -> None:
    why = postgres_available()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (under CI=true the PostgreSQL tests never skip)")
        pytest.skip(why)


def redis_available() -> str | None:
    """Why Redis cannot be used for tests, or ``None`` when it can."""
    try:
        import redis

        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3) as client:
            client.ping()
    except Exception as error:
        return f"Redis at {REDIS_URL} is not available: {error}"
    return None


def require_redis() -> None:
    why = redis_available()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (under CI=true the Redis tests never skip)")
        pytest.skip(why)


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    """A key prefix of its own (``tctest:<uuid>``); every key under it deleted afterwards."""
    import redis

    prefix = f"tctest:{uuid.uuid4().hex}"
    try:
        yield prefix
    finally:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3) as client:
            doomed = list(client.scan_iter(match=f"{prefix}:*", count=500))
            # RQ's own keys name the queue (<prefix>:executions) and its jobs (<prefix>-...,
            # with the prefix's ':' as '_').
            doomed += list(client.scan_iter(match=f"rq:*{prefix}:*", count=500))
            job_prefix = prefix.replace(":", "_")
            doomed += list(client.scan_iter(match=f"rq:*{job_prefix}-*", count=500))
            for start in range(0, len(doomed), 500):
                client.delete(*doomed[start : start + 500])


@contextlib.contextmanager
def temporary_database(prefix: str = "turbocat_test") -> Iterator[str]:
    """Create an empty database for this process; its DSN; dropped afterwards."""
    from psycopg import sql

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"{prefix}_{worker}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with _connect_admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    finally:
        with _connect_admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


LOCAL_OWNER_SQL = (
    Path(__file__).parents[1] / "src/turbocat_adapters/postgres/migrations/0009_local_owner.sql"
).read_text()


async def truncate_everything(dsn: str) -> None:
    """Empty every table but the migrations' bookkeeping."""
    import psycopg
    from psycopg import sql

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'schema_migrations'"
        )
        tables = [row[0] for row in await cursor.fetchall()]
        if tables:
            names = sql.SQL(", ").join(sql.Identifier(t) for t in tables)
            await conn.execute(sql.SQL("TRUNCATE {} CASCADE").format(names))
        # Back to a freshly migrated store: the local owner's row is the migrations' data.
        await conn.execute(LOCAL_OWNER_SQL)


@contextlib.asynccontextmanager
async def empty_store(kind: str, tmp_path: Path, postgres_dsn: str | None) -> AsyncIterator[Store]:
    """An open store of ``kind`` with every table empty, closed afterwards."""
    store: Store
    if kind == "memory":
        store = MemoryStore(lock_timeout=2.0)
    elif kind == "sqlite":
        from turbocat_adapters.sqlite import SqliteStore

        store = SqliteStore(tmp_path / f"turbocat-{uuid.uuid4().hex[:8]}.db", lock_timeout=2.0)
    elif kind == "postgres":
        from turbocat_adapters.postgres import PostgresStore

        assert postgres_dsn is not None
        await truncate_everything(postgres_dsn)
        store = PostgresStore(postgres_dsn, min_size=1, max_size=8, lock_timeout=2.0)
    else:
        raise AssertionError(kind)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
