"""Sessions, one-time tokens and replay keys kept by the SQL stores: what the contract suite
cannot see.

They outlive the store object, several stores (processes) on one database share them, the
foreign key to users holds, expired rows are swept, times come from the clock, and on
SQLite every call is a transaction of its own that never joins a unit of work's.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from tests.contracts import factories as make
from tests.contracts.factories import T0, at
from tests.databases import empty_store
from turbocat_adapters.memory import ManualClock
from turbocat_adapters.postgres import PostgresStore
from turbocat_adapters.sqlite import SqliteStore
from turbocat_adapters.store_contract import Store
from turbocat_core.domain.user import User
from turbocat_core.errors import Conflict, ExternalServiceError, ValidationFailed


class Database:
    """An open, empty store of one kind, and ways to reach its database around it."""

    def __init__(self, store: Store, dsn: str | None) -> None:
        self.store = store
        self.dsn = dsn
        self.kind = store.kind

    def another_store(self) -> Store:
        """A second store on the same database: another process, as far as it can tell."""
        if isinstance(self.store, SqliteStore):
            return SqliteStore(self.store.path, lock_timeout=2.0)
        assert self.dsn is not None
        return PostgresStore(self.dsn, min_size=1, max_size=4, lock_timeout=2.0)

    @contextlib.asynccontextmanager
    async def opened_another(self) -> AsyncIterator[Store]:
        other = self.another_store()
        await other.open()
        try:
            yield other
        finally:
            await other.close()

    async def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A query on a connection of its own (``?`` placeholders on both kinds)."""
        if isinstance(self.store, SqliteStore):
            connection = sqlite3.connect(self.store.path, isolation_level=None)
            try:
                connection.execute("PRAGMA foreign_keys = ON")
                return connection.execute(query, params).fetchall()
            finally:
                connection.close()
        assert self.dsn is not None
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            cursor = await conn.execute(query.replace("?", "%s").encode(), params)
            return await cursor.fetchall() if cursor.description else []


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with empty_store(request.param, tmp_path, dsn) as store:
        yield Database(store, dsn)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


async def _user(store: Store) -> User:
    user = make.user()
    async with store.unit_of_work() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


def _id(value: Any) -> str:
    return str(value)


async def test_sessions_and_tokens_outlive_the_store_object(db: Database, clock):
    user = await _user(db.store)
    session = make.session(user.id, ip_address="192.0.2.1", user_agent="curl/8")
    await db.store.session_store(clock).put(session)
    await db.store.one_time_tokens(clock).put("hash-1", str(user.id), 60)
    await db.store.close()  # a restart
    async with db.opened_another() as again:
        assert await again.session_store(clock).get(session.id) == session
        assert await again.one_time_tokens(clock).take("hash-1") == str(user.id)


async def test_stores_on_one_database_share_sessions_and_tokens(db: Database, clock):
    user = await _user(db.store)
    mine = make.session(user.id)
    theirs = make.session(user.id)
    here = db.store.session_store(clock)
    async with db.opened_another() as other:
        there = other.session_store(clock)
        await here.put(mine)
        await there.put(theirs)
        assert await there.get(mine.id) == mine
        assert await here.get(theirs.id) == theirs
        clock.advance(1)
        await there.revoke(mine.id)
        assert (await here.get(mine.id)).revoked_at == at(1)
        assert await here.revoke_all(user.id) == 1
        assert await there.revoke_all(user.id) == 0

        await db.store.one_time_tokens(clock).put("hash-1", "subject", 60)
        assert await other.one_time_tokens(clock).take("hash-1") == "subject"
        assert await db.store.one_time_tokens(clock).take("hash-1") is None


async def test_stores_racing_to_take_tokens_have_one_winner_each(db: Database, clock):
    hashes = [f"hash-{n}" for n in range(20)]
    here = db.store.one_time_tokens(clock)
    for token_hash in hashes:
        await here.put(token_hash, token_hash.upper(), 60)
    async with db.opened_another() as other:
        there = other.one_time_tokens(clock)
        results = await asyncio.gather(
            *(taker.take(token_hash) for token_hash in hashes for taker in (here, there, here))
        )
    assert sorted(result for result in results if result is not None) == sorted(
        token_hash.upper() for token_hash in hashes
    )


async def test_stores_racing_to_revoke_a_users_sessions_count_each_once(db: Database, clock):
    user = await _user(db.store)
    here = db.store.session_store(clock)
    for _ in range(10):
        await here.put(make.session(user.id))
    async with db.opened_another() as other:
        there = other.session_store(clock)
        counts = await asyncio.gather(*(s.revoke_all(user.id) for s in (here, there) * 3))
    assert sum(counts) == 10


async def test_a_session_of_a_user_that_does_not_exist_is_refused(db: Database, clock):
    sessions = db.store.session_store(clock)
    session = make.session(uuid4())
    with pytest.raises(ValidationFailed):
        await sessions.put(session)
    assert await sessions.get(session.id) is None


async def test_a_users_sessions_go_with_the_user_row(db: Database, clock):
    user = await _user(db.store)
    session = make.session(user.id)
    sessions = db.store.session_store(clock)
    await sessions.put(session)
    await db.rows("DELETE FROM users WHERE id = ?", (_id(user.id),))
    assert await sessions.get(session.id) is None


async def test_putting_a_session_deletes_the_users_expired_ones_only(db: Database, clock):
    user, someone = await _user(db.store), await _user(db.store)
    sessions = db.store.session_store(clock)
    expired = make.session(user.id, expires_at=at(10))
    live = make.session(user.id, expires_at=at(1000))
    others = make.session(someone.id, expires_at=at(10))
    for session in (expired, live, others):
        await sessions.put(session)
    clock.advance(20)
    assert await sessions.get(expired.id) == expired  # kept until the user's next put
    late = make.session(user.id, expires_at=at(15))  # expired already, but it is the one put
    await sessions.put(late)
    assert await sessions.get(expired.id) is None
    assert await sessions.get(live.id) == live
    assert await sessions.get(others.id) == others
    assert await sessions.get(late.id) == late


async def test_putting_a_token_sweeps_the_expired_ones(db: Database, clock):
    tokens = db.store.one_time_tokens(clock)
    for n in range(5):
        await tokens.put(f"old-{n}", "x", 10)
    await tokens.put("live", "y", 1000)
    clock.advance(20)
    await tokens.put("old-0", "again", 10)  # the one being put is replaced, not swept
    await tokens.put("new", "z", 10)
    left = {row[0] for row in await db.rows("SELECT token_hash FROM one_time_tokens")}
    assert left == {"live", "old-0", "new"}
    assert await tokens.take("old-0") == "again"


async def test_first_uses_sweep_the_expired_replay_keys(db: Database, clock):
    guard = db.store.replay_guard(clock)
    for n in range(5):
        assert await guard.first_use(f"old-{n}", 10)
    assert await guard.first_use("live", 1000)
    clock.advance(20)
    assert await guard.first_use("old-0", 10)  # taken over, not swept
    assert await guard.first_use("new", 10)
    left = {row[0] for row in await db.rows("SELECT replay_key FROM replay_keys")}
    assert left == {"live", "old-0", "new"}


async def test_stores_on_one_database_share_replay_keys(db: Database, clock):
    assert await db.store.replay_guard(clock).first_use("webhook:x", 600)
    async with db.opened_another() as other:
        assert await other.replay_guard(clock).first_use("webhook:x", 600) is False
        await other.replay_guard(clock).forget("webhook:x")
    assert await db.store.replay_guard(clock).first_use("webhook:x", 600) is True


async def test_times_are_the_clocks_not_the_databases(db: Database):
    far = ManualClock(datetime(2100, 1, 1, tzinfo=UTC))
    user = await _user(db.store)
    session = make.session(user.id, created_at=far.now(), expires_at=far.now())
    await db.store.session_store(far).put(session)
    await db.store.session_store(far).revoke(session.id)
    await db.store.one_time_tokens(far).put("hash-1", "subject", 60)
    [(revoked_at,)] = await db.rows(
        "SELECT revoked_at FROM sessions WHERE id = ?", (_id(session.id),)
    )
    [(expires_at,)] = await db.rows("SELECT expires_at FROM one_time_tokens")
    if isinstance(revoked_at, str):  # SQLite keeps times as ISO 8601 text
        revoked_at, expires_at = (
            datetime.fromisoformat(revoked_at),
            datetime.fromisoformat(expires_at),
        )
    assert revoked_at == datetime(2100, 1, 1, tzinfo=UTC)
    assert expires_at == datetime(2100, 1, 1, 0, 1, tzinfo=UTC)
    far.advance(59)
    assert await db.store.one_time_tokens(far).take("hash-1") == "subject"


async def test_the_tables_have_their_keys_and_indexes(db: Database):
    if db.kind == "sqlite":
        foreign = await db.rows('SELECT "table", "from" FROM pragma_foreign_key_list(\'sessions\')')
        assert foreign == [("users", "user_id")]
        indexes = {
            row[0] for row in await db.rows("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        assert {"ix_sessions_user_id", "ix_one_time_tokens_expires_at"} <= indexes
    else:
        foreign = await db.rows(
            "SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'sessions'::regclass AND contype = 'f'"
        )
        assert foreign == [("sessions_user_id_fkey",)]
        indexes = {row[0] for row in await db.rows("SELECT indexname FROM pg_indexes")}
        assert {
            "sessions_pkey",
            "sessions_user_id_idx",
            "one_time_tokens_pkey",
            "one_time_tokens_expires_at_idx",
        } <= indexes


async def test_a_store_that_is_not_open_refuses(db: Database, clock):
    closed = db.another_store()
    error = ExternalServiceError if db.kind == "sqlite" else RuntimeError
    with pytest.raises(error):
        await closed.session_store(clock).get(uuid4())
    with pytest.raises(error):
        await closed.one_time_tokens(clock).take("hash")


# --- SQLite: one writer connection, shared with the units of work ---------------------------


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(tmp_path / "sessions.db", lock_timeout=0.5)
    await store.open()
    yield store
    await store.close()


async def test_a_write_waits_for_a_units_of_work_transaction_and_stays_out_of_it(
    sqlite_store: SqliteStore, clock
):
    tokens = sqlite_store.one_time_tokens(clock)
    user = make.user()
    async with sqlite_store.unit_of_work() as uow:
        await uow.users.add(user)  # holds the write lock from here
        put = asyncio.create_task(tokens.put("hash-1", "subject", 60))
        await asyncio.sleep(0.05)
        assert not put.done()  # waiting for the lock, not writing into this transaction
        await uow.rollback()
        await put
    async with sqlite_store.unit_of_work() as uow:
        assert await uow.users.get(user.id) is None  # rolled back, token or not
    assert await tokens.take("hash-1") == "subject"  # committed on its own


async def test_a_write_while_the_same_coroutine_holds_a_transaction_is_a_conflict(
    sqlite_store: SqliteStore, clock
):
    async with sqlite_store.unit_of_work() as uow:
        await uow.users.add(make.user())
        with pytest.raises(Conflict):  # it would wait for itself: lock_timeout, then Conflict
            await sqlite_store.session_store(clock).revoke(uuid4())
        await uow.commit()


async def test_a_cancelled_write_still_leaves_the_writer_clean(sqlite_store: SqliteStore, clock):
    tokens = sqlite_store.one_time_tokens(clock)
    put = asyncio.create_task(tokens.put("hash-1", "subject", 60))
    await asyncio.sleep(0)
    put.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await put
    user = make.user()
    async with sqlite_store.unit_of_work() as uow:
        await uow.users.add(user)
        await uow.commit()
    async with sqlite_store.unit_of_work() as uow:
        assert await uow.users.get(user.id) == user
    await tokens.put("hash-2", "other", 60)
    assert await tokens.take("hash-2") == "other"
