"""Login sessions and one-time tokens in the SQLite file: each call a short transaction.

These ports are not part of a unit of work: every write takes the store's write lock (as a
unit of work's first write does, ``Conflict`` after ``lock_timeout``), runs ``BEGIN
IMMEDIATE``, its statements and ``COMMIT`` in one call on the worker thread, and lets go.
Reads use the reader connection (committed data only). Times come from the injected clock,
never from SQLite, so every process sharing the file agrees with its own clock's idea of
expiry. A coroutine holding a unit of work's write transaction must not call these
(it would wait for itself, as with a second unit of work).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar
from uuid import UUID

from turbocat_adapters.sqlite.codec import (
    parse_ts,
    parse_ts_or_none,
    parse_uid,
    ts,
    ts_or_none,
    uid,
)
from turbocat_adapters.sqlite.worker import BEGIN_WRITE
from turbocat_core import ports
from turbocat_core.domain.common import UserId
from turbocat_core.domain.session import Session
from turbocat_core.errors import Conflict

if TYPE_CHECKING:
    from turbocat_adapters.sqlite.store import SqliteStore

T = TypeVar("T")

SESSION_COLUMNS: Final = (
    "id, user_id, refresh_hash, created_at, expires_at, last_used_at, ip_address, "
    "user_agent, revoked_at"
)
UPSERT_SESSION: Final = f"""
INSERT INTO sessions ({SESSION_COLUMNS})
VALUES (:id, :user_id, :refresh_hash, :created_at, :expires_at, :last_used_at, :ip_address,
        :user_agent, :revoked_at)
ON CONFLICT (id) DO UPDATE SET
    user_id = excluded.user_id, refresh_hash = excluded.refresh_hash,
    created_at = excluded.created_at, expires_at = excluded.expires_at,
    last_used_at = excluded.last_used_at, ip_address = excluded.ip_address,
    user_agent = excluded.user_agent, revoked_at = excluded.revoked_at"""
# Expired sessions of the same user go when it logs in again (served by the user_id index).
PRUNE_SESSIONS: Final = (
    "DELETE FROM sessions WHERE user_id = :user_id AND expires_at <= :now AND id <> :id"
)
GET_SESSION: Final = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = :id"
REVOKE: Final = "UPDATE sessions SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL"
ROTATE: Final = (
    "UPDATE sessions SET refresh_hash = :new_hash, expires_at = :expires_at, last_used_at = :now "
    "WHERE id = :id AND refresh_hash = :expected AND revoked_at IS NULL"
)
FORGET_TOKENS: Final = "DELETE FROM one_time_tokens WHERE subject = :subject"
REVOKE_ALL: Final = (
    "UPDATE sessions SET revoked_at = :now WHERE user_id = :user_id AND revoked_at IS NULL "
    "AND id IS NOT :keep"
)

UPSERT_TOKEN: Final = """
INSERT INTO one_time_tokens (token_hash, subject, expires_at)
VALUES (:token_hash, :subject, :expires_at)
ON CONFLICT (token_hash) DO UPDATE SET
    subject = excluded.subject, expires_at = excluded.expires_at"""
SWEEP_TOKENS: Final = (
    "DELETE FROM one_time_tokens WHERE expires_at <= :now AND token_hash <> :token_hash"
)
TAKE_TOKEN: Final = (
    "DELETE FROM one_time_tokens WHERE token_hash = :token_hash RETURNING subject, expires_at"
)


async def write(store: SqliteStore, work: Callable[[sqlite3.Connection], T]) -> T:
    """``work(writer)`` as one transaction of its own, under the store's write lock."""
    worker = store.worker
    lock = store.write_lock
    try:
        async with asyncio.timeout(store.lock_timeout):
            await lock.acquire()
    except TimeoutError:
        raise Conflict(
            f"waited more than {store.lock_timeout:g}s for a unit of work's write transaction "
            "to end"
        ) from None
    try:
        writer = worker.writer

        def call() -> T:
            if writer.in_transaction:  # left open by a unit of work that vanished
                writer.rollback()
            writer.execute(BEGIN_WRITE)
            try:
                result = work(writer)
                writer.execute("COMMIT")
            except BaseException:
                if writer.in_transaction:
                    writer.rollback()
                raise
            return result

        # Once handed in, the call runs even if this coroutine is cancelled, and before any
        # later writer's: releasing the lock below is safe either way.
        return await worker.run(call)
    finally:
        lock.release()


async def read(store: SqliteStore, work: Callable[[sqlite3.Connection], T]) -> T:
    """``work(reader)`` on the worker thread: committed data, no lock."""
    worker = store.worker
    reader = worker.reader
    return await worker.run(lambda: work(reader))


def _session_params(session: Session) -> dict[str, Any]:
    return {
        "id": uid(session.id),
        "user_id": uid(session.user_id),
        "refresh_hash": session.refresh_hash,
        "created_at": ts(session.created_at),
        "expires_at": ts(session.expires_at),
        "last_used_at": ts_or_none(session.last_used_at),
        "ip_address": session.ip_address,
        "user_agent": session.user_agent,
        "revoked_at": ts_or_none(session.revoked_at),
    }


def _session(row: tuple[Any, ...]) -> Session:
    (
        session_id,
        user_id,
        refresh_hash,
        created_at,
        expires_at,
        last_used_at,
        ip_address,
        user_agent,
        revoked_at,
    ) = row
    return Session(
        id=parse_uid(session_id),
        user_id=UserId(parse_uid(user_id)),
        refresh_hash=refresh_hash,
        created_at=parse_ts(created_at),
        expires_at=parse_ts(expires_at),
        last_used_at=parse_ts_or_none(last_used_at),
        ip_address=ip_address,
        user_agent=user_agent,
        revoked_at=parse_ts_or_none(revoked_at),
    )


class SqliteSessionStore:
    """Sessions in the ``sessions`` table, as ``MemorySessionStore`` keeps them.

    ``put`` inserts or replaces the whole row (the user must exist: ``ValidationFailed``
    otherwise) and deletes the user's other sessions that have expired; ``get`` returns a
    revoked session too (with ``revoked_at``); ``revoke`` keeps the first revocation time;
    ``revoke_all`` answers how many sessions it newly revoked.
    """

    __slots__ = ("_clock", "_store")

    def __init__(self, store: SqliteStore, clock: ports.Clock) -> None:
        self._store = store
        self._clock = clock

    async def put(self, session: Session) -> None:
        params = _session_params(session)
        prune = {"user_id": params["user_id"], "id": params["id"], "now": ts(self._clock.now())}

        def work(writer: sqlite3.Connection) -> None:
            writer.execute(PRUNE_SESSIONS, prune)
            writer.execute(UPSERT_SESSION, params)

        await write(self._store, work)

    async def get(self, session_id: UUID) -> Session | None:
        params = {"id": uid(session_id)}

        def work(reader: sqlite3.Connection) -> Session | None:
            row = reader.execute(GET_SESSION, params).fetchone()
            return None if row is None else _session(row)

        return await read(self._store, work)

    async def rotate(
        self,
        session_id: UUID,
        expected_hash: str,
        new_hash: str,
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        params = {
            "id": uid(session_id),
            "expected": expected_hash,
            "new_hash": new_hash,
            "expires_at": ts(expires_at),
            "now": ts(now),
        }
        changed: int = await write(
            self._store, lambda writer: writer.execute(ROTATE, params).rowcount
        )
        return changed == 1

    async def revoke(self, session_id: UUID) -> None:
        params = {"id": uid(session_id), "now": ts(self._clock.now())}
        await write(self._store, lambda writer: writer.execute(REVOKE, params).rowcount)

    async def revoke_all(self, user_id: UserId, *, keep: UUID | None = None) -> int:
        """Revoke every session of the user but ``keep``; how many were not revoked before."""
        params = {
            "user_id": uid(user_id),
            "now": ts(self._clock.now()),
            "keep": uid(keep) if keep is not None else None,
        }
        count: int = await write(
            self._store, lambda writer: writer.execute(REVOKE_ALL, params).rowcount
        )
        return count


class SqliteOneTimeTokens:
    """Single-use tokens in ``one_time_tokens``, expiring ``ttl_seconds`` after ``put`` by
    the clock's wall time (the file may be shared by processes: no monotonic clock).

    ``take`` is one ``DELETE … RETURNING`` under the write lock, so of two takes of one
    token (in this process or another) exactly one gets the subject; an expired token is
    deleted and gives ``None``. Each ``put`` also deletes the tokens that have expired.
    """

    __slots__ = ("_clock", "_store")

    def __init__(self, store: SqliteStore, clock: ports.Clock) -> None:
        self._store = store
        self._clock = clock

    async def put(self, token_hash: str, subject: str, ttl_seconds: int) -> None:
        now = self._clock.now()
        params = {
            "token_hash": token_hash,
            "subject": subject,
            "expires_at": ts(now + timedelta(seconds=ttl_seconds)),
        }
        sweep = {"token_hash": token_hash, "now": ts(now)}

        def work(writer: sqlite3.Connection) -> None:
            writer.execute(SWEEP_TOKENS, sweep)
            writer.execute(UPSERT_TOKEN, params)

        await write(self._store, work)

    async def take(self, token_hash: str) -> str | None:
        params = {"token_hash": token_hash}

        def work(writer: sqlite3.Connection) -> list[Any]:
            return writer.execute(TAKE_TOKEN, params).fetchall()

        rows = await write(self._store, work)
        if not rows:
            return None
        subject, expires_at = rows[0]
        return str(subject) if self._clock.now() < parse_ts(expires_at) else None

    async def forget(self, subject: str) -> int:
        params = {"subject": subject}
        count: int = await write(
            self._store, lambda writer: writer.execute(FORGET_TOKENS, params).rowcount
        )
        return count


def _conforms(
    sessions: SqliteSessionStore, tokens: SqliteOneTimeTokens
) -> tuple[ports.SessionStore, ports.OneTimeTokens]:
    """Never called: mypy checks here that the classes match their ports."""
    return sessions, tokens
