"""Login sessions, one-time tokens and replay keys in a SQL store: each call a unit of
work of its own, committed before it returns (on SQLite it takes the write lock: never
call them while holding a unit of work's write transaction).

Writes also delete at most ``SWEEP_LIMIT`` expired rows, skipping (on PostgreSQL) rows
another transaction holds, so a sweep never waits nor deadlocks. Times come from the
injected clock, never from the database.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from turbocat_adapters.sql.connection import Connection, Result, Script, Statement
from turbocat_adapters.sql.tables import Table
from turbocat_adapters.sql.uow import SqlUnitOfWork
from turbocat_core import ports
from turbocat_core.domain.common import UserId
from turbocat_core.domain.session import Session

SWEEP_LIMIT: Final = 100
"""At most this many expired rows go per write (the rest with later ones)."""


def expired(table: str, key: str, spared: str) -> str:
    """Deletes at most ``:sweep`` expired rows of ``table``, oldest first, but ``spared``."""
    return f"""
DELETE FROM {table} WHERE {key} IN (
    SELECT {key} FROM {table} WHERE expires_at <= :now AND {spared}
    ORDER BY expires_at LIMIT :sweep{{skip_locked}}
)"""


SESSIONS: Final = Table("sessions", Session, "session")
PUT_SESSION: Final = (
    SESSIONS.insert()
    + " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in SESSIONS.columns if name != "id")
)
# Expired sessions of the same user go when it logs in again (served by the user_id index).
PRUNE_SESSIONS: Final = expired("sessions", "id", "user_id = :user_id AND id <> :id")
GET_SESSION: Final = SESSIONS.select("id = :id")
REVOKE: Final = "UPDATE sessions SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL"
ROTATE: Final = """
UPDATE sessions SET refresh_hash = :new_hash, expires_at = :expires_at, last_used_at = :now
WHERE id = :id AND refresh_hash = :expected AND revoked_at IS NULL"""
# On PostgreSQL (READ COMMITTED) a row another revoke_all changed meanwhile is checked again
# once its lock is granted: of two concurrent calls, each session is counted by exactly one.
REVOKE_ALL: Final = (
    "UPDATE sessions SET revoked_at = :now WHERE user_id = :user_id AND revoked_at IS NULL"
)

PUT_TOKEN: Final = """
INSERT INTO one_time_tokens (token_hash, subject, expires_at)
VALUES (:token_hash, :subject, :expires_at)
ON CONFLICT (token_hash) DO UPDATE SET
    subject = excluded.subject, expires_at = excluded.expires_at"""
SWEEP_TOKENS: Final = expired("one_time_tokens", "token_hash", "token_hash <> :token_hash")
# A second DELETE of the same row waits for the first and then finds nothing: one winner.
TAKE_TOKEN: Final = (
    "DELETE FROM one_time_tokens WHERE token_hash = :token_hash RETURNING subject, expires_at"
)
FORGET_TOKENS: Final = "DELETE FROM one_time_tokens WHERE subject = :subject"

# Inserts the key, or takes over its row when that has expired; a row comes back only then.
# A concurrent insert of the same key waits for this one and then finds a live row: one
# winner. The sweep skips the key itself (its row is the insert's business).
FIRST_USE: Final = """
INSERT INTO replay_keys (replay_key, expires_at) VALUES (:key, :expires_at)
ON CONFLICT (replay_key) DO UPDATE SET expires_at = excluded.expires_at
WHERE replay_keys.expires_at <= :now
RETURNING replay_key"""
SWEEP_KEYS: Final = expired("replay_keys", "replay_key", "replay_key <> :key")
FORGET_KEY: Final = "DELETE FROM replay_keys WHERE replay_key = :key"


class SessionPorts:
    """The ports a SQL store gives beside its units of work."""

    __slots__ = ()

    def unit_of_work(self) -> SqlUnitOfWork:
        raise NotImplementedError

    def session_store(self, clock: ports.Clock) -> SqlSessionStore:
        return SqlSessionStore(self, clock)

    def one_time_tokens(self, clock: ports.Clock) -> SqlOneTimeTokens:
        return SqlOneTimeTokens(self, clock)

    def replay_guard(self, clock: ports.Clock) -> SqlReplayGuard:
        return SqlReplayGuard(self, clock)


def statements(*each: Statement) -> Script[Result]:
    """A script of ``each`` in turn; the last one's result."""
    result = Result([], -1)
    for statement in each:
        result = yield statement
    return result


class _Calls:
    __slots__ = ("_clock", "_store")

    def __init__(self, store: SessionPorts, clock: ports.Clock) -> None:
        self._store = store
        self._clock = clock

    @contextlib.asynccontextmanager
    async def _alone(self, *, commit: bool = True) -> AsyncIterator[Connection]:
        """The connection of a unit of work of its own, committed when the block ends well
        (if ``commit``; then only ``run`` answers, see ``deferred``)."""
        uow = self._store.unit_of_work()
        async with uow:
            if not commit:
                yield uow.connection
                return
            async with uow.deferred():  # on PostgreSQL the COMMIT goes with the last statement
                yield uow.connection
                await uow.commit()


async def one(conn: Connection, sql: str, params: dict[str, Any]) -> Result:
    """One write statement's result (``run`` reads it before the commit is sent)."""
    return await conn.run(statements(Statement(sql, params)), write=True)


async def swept(conn: Connection, sweep: str, params: dict[str, Any], then: Statement) -> Result:
    """The expired rows ``sweep`` picks deleted, then ``then``, in one go; ``then``'s result."""
    lock = conn.dialect.query("skip_locked")
    first = Statement(sweep.format(skip_locked=lock), params | {"sweep": SWEEP_LIMIT}, quiet=True)
    return await conn.run(statements(first, then), write=True)


class SqlSessionStore(_Calls):
    """Sessions in the ``sessions`` table; ``put`` also deletes the user's expired ones."""

    __slots__ = ()

    async def put(self, session: Session) -> None:
        async with self._alone() as conn:
            params = SESSIONS.codec(conn.dialect).params(session)
            now = conn.dialect.bind("time", self._clock.now())
            prune = {"user_id": params["user_id"], "id": params["id"], "now": now}
            await swept(conn, PRUNE_SESSIONS, prune, Statement(PUT_SESSION, params, quiet=True))

    async def get(self, session_id: UUID) -> Session | None:
        async with self._alone(commit=False) as conn:
            rows = await conn.fetch(GET_SESSION, {"id": conn.dialect.bind("uuid", session_id)})
            return SESSIONS.codec(conn.dialect).entity(rows[0]) if rows else None

    async def rotate(
        self,
        session_id: UUID,
        expected_hash: str,
        new_hash: str,
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        async with self._alone() as conn:
            bind = conn.dialect.bind
            params = {
                "id": bind("uuid", session_id),
                "expected": expected_hash,
                "new_hash": new_hash,
                "expires_at": bind("time", expires_at),
                "now": bind("time", now),
            }
            changed = await one(conn, ROTATE, params)
        return changed.rowcount == 1

    async def revoke(self, session_id: UUID) -> None:
        async with self._alone() as conn:
            bind = conn.dialect.bind
            params = {"id": bind("uuid", session_id), "now": bind("time", self._clock.now())}
            await one(conn, REVOKE, params)

    async def revoke_all(self, user_id: UserId, *, keep: UUID | None = None) -> int:
        async with self._alone() as conn:
            bind = conn.dialect.bind
            params = {"user_id": bind("uuid", user_id), "now": bind("time", self._clock.now())}
            if keep is None:
                revoked = await one(conn, REVOKE_ALL, params)
            else:
                params["keep"] = bind("uuid", keep)
                revoked = await one(conn, REVOKE_ALL + " AND id <> :keep", params)
        return max(revoked.rowcount, 0)


class SqlOneTimeTokens(_Calls):
    """Tokens in ``one_time_tokens``; ``take`` is one ``DELETE … RETURNING``: one winner."""

    __slots__ = ()

    async def put(self, token_hash: str, subject: str, ttl_seconds: int) -> None:
        now = self._clock.now()
        async with self._alone() as conn:
            bind = conn.dialect.bind
            params = {
                "token_hash": token_hash,
                "subject": subject,
                "expires_at": bind("time", now + timedelta(seconds=ttl_seconds)),
            }
            expired = {"token_hash": token_hash, "now": bind("time", now)}
            await swept(conn, SWEEP_TOKENS, expired, Statement(PUT_TOKEN, params, quiet=True))

    async def take(self, token_hash: str) -> str | None:
        async with self._alone() as conn:
            rows = (await one(conn, TAKE_TOKEN, {"token_hash": token_hash})).rows
            decode = conn.dialect.decoder("time") or (lambda value: value)
        if not rows:
            return None
        subject, expires_at = rows[0]
        return str(subject) if self._clock.now() < decode(expires_at) else None

    async def forget(self, subject: str) -> int:
        async with self._alone() as conn:
            forgotten = await one(conn, FORGET_TOKENS, {"subject": subject})
        return max(forgotten.rowcount, 0)


class SqlReplayGuard(_Calls):
    """Keys in ``replay_keys``; ``first_use`` is one upsert: one winner."""

    __slots__ = ()

    async def first_use(self, key: str, ttl_seconds: int) -> bool:
        now = self._clock.now()
        async with self._alone() as conn:
            bind = conn.dialect.bind
            params = {
                "key": key,
                "now": bind("time", now),
                "expires_at": bind("time", now + timedelta(seconds=ttl_seconds)),
            }
            expired = {"key": key, "now": params["now"]}
            result = await swept(conn, SWEEP_KEYS, expired, Statement(FIRST_USE, params))
        return bool(result.rows)

    async def forget(self, key: str) -> None:
        async with self._alone() as conn:
            await one(conn, FORGET_KEY, {"key": key})
