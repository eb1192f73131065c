"""Login sessions and one-time tokens in PostgreSQL: every call is one statement.

These ports are not part of a unit of work: each call borrows a pooled connection
(autocommit, so the statement is its own transaction), runs one statement and gives the
connection back. Statements that also sweep expired rows do it in a data-modifying CTE
with ``FOR UPDATE SKIP LOCKED``, so sweeping never waits for, nor deadlocks with, another
process. Times come from the injected clock, never from the server's ``now()``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from psycopg.rows import DictRow

from turbocat_adapters.postgres.errors import translated
from turbocat_core import ports
from turbocat_core.domain.common import UserId
from turbocat_core.domain.session import Session

if TYPE_CHECKING:
    from turbocat_adapters.postgres.session import Params, Query
    from turbocat_adapters.postgres.store import PostgresStore

SWEEP_LIMIT: Final = 100
"""At most this many expired rows go per write (the rest with later ones)."""

# Expired sessions of the same user go when it logs in again (served by the user_id index).
PUT_SESSION: Final = """
WITH pruned AS (
    DELETE FROM sessions WHERE id IN (
        SELECT id FROM sessions
        WHERE user_id = %(user_id)s AND expires_at <= %(now)s AND id <> %(id)s
        LIMIT %(sweep)s
        FOR UPDATE SKIP LOCKED
    )
)
INSERT INTO sessions (
    id, user_id, refresh_hash, created_at, expires_at, last_used_at, ip_address, user_agent,
    revoked_at
) VALUES (
    %(id)s, %(user_id)s, %(refresh_hash)s, %(created_at)s, %(expires_at)s, %(last_used_at)s,
    %(ip_address)s, %(user_agent)s, %(revoked_at)s
)
ON CONFLICT (id) DO UPDATE SET
    user_id = EXCLUDED.user_id, refresh_hash = EXCLUDED.refresh_hash,
    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at,
    last_used_at = EXCLUDED.last_used_at, ip_address = EXCLUDED.ip_address,
    user_agent = EXCLUDED.user_agent, revoked_at = EXCLUDED.revoked_at"""
GET_SESSION: Final = """
SELECT id, user_id, refresh_hash, created_at, expires_at, last_used_at, ip_address,
       user_agent, revoked_at
FROM sessions WHERE id = %(id)s"""
REVOKE: Final = "UPDATE sessions SET revoked_at = %(now)s WHERE id = %(id)s AND revoked_at IS NULL"
ROTATE: Final = """
UPDATE sessions SET refresh_hash = %(new_hash)s, expires_at = %(expires_at)s, last_used_at = %(now)s
WHERE id = %(id)s AND refresh_hash = %(expected)s AND revoked_at IS NULL"""
# Under READ COMMITTED a row another revoke_all changed meanwhile is checked again after
# its lock is granted: of two concurrent calls, each session is counted by exactly one.
REVOKE_ALL: Final = (
    "UPDATE sessions SET revoked_at = %(now)s WHERE user_id = %(user_id)s AND revoked_at IS NULL"
    " AND id IS DISTINCT FROM %(keep)s"
)
FORGET_TOKENS: Final = "DELETE FROM one_time_tokens WHERE subject = %(subject)s"

PUT_TOKEN: Final = """
WITH swept AS (
    DELETE FROM one_time_tokens WHERE token_hash IN (
        SELECT token_hash FROM one_time_tokens
        WHERE expires_at <= %(now)s AND token_hash <> %(token_hash)s
        ORDER BY expires_at
        LIMIT %(sweep)s
        FOR UPDATE SKIP LOCKED
    )
)
INSERT INTO one_time_tokens (token_hash, subject, expires_at)
VALUES (%(token_hash)s, %(subject)s, %(expires_at)s)
ON CONFLICT (token_hash) DO UPDATE SET
    subject = EXCLUDED.subject, expires_at = EXCLUDED.expires_at"""
# A second DELETE of the same row waits for the first and then finds nothing: one winner.
TAKE_TOKEN: Final = (
    "DELETE FROM one_time_tokens WHERE token_hash = %(token_hash)s RETURNING subject, expires_at"
)


async def execute(store: PostgresStore, query: Query, params: Params) -> tuple[list[DictRow], int]:
    """One autocommitted statement on a pooled connection: the rows it returned and its
    row count (``RuntimeError`` when the store is not open; driver errors translated)."""
    pool = store.pool
    with translated():
        conn = await pool.getconn()
        try:
            cursor = await conn.execute(query, params)
            rows = await cursor.fetchall() if cursor.description is not None else []
            return rows, cursor.rowcount
        finally:
            # A connection left mid-statement (cancelled) or broken is discarded by the pool.
            await pool.putconn(conn)


def _session(row: DictRow) -> Session:
    return Session(
        id=row["id"],
        user_id=UserId(row["user_id"]),
        refresh_hash=row["refresh_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        ip_address=row["ip_address"],
        user_agent=row["user_agent"],
        revoked_at=row["revoked_at"],
    )


class PostgresSessionStore:
    """Sessions in the ``sessions`` table, as ``MemorySessionStore`` keeps them.

    ``put`` inserts or replaces the whole row (the user must exist: ``ValidationFailed``
    otherwise) and deletes the user's other sessions that have expired; ``get`` returns a
    revoked session too (with ``revoked_at``); ``revoke`` keeps the first revocation time;
    ``revoke_all`` answers how many sessions it newly revoked.
    """

    __slots__ = ("_clock", "_store")

    def __init__(self, store: PostgresStore, clock: ports.Clock) -> None:
        self._store = store
        self._clock = clock

    async def put(self, session: Session) -> None:
        params: dict[str, Any] = {
            "id": session.id,
            "user_id": session.user_id,
            "refresh_hash": session.refresh_hash,
            "created_at": session.created_at,
            "expires_at": session.expires_at,
            "last_used_at": session.last_used_at,
            "ip_address": session.ip_address,
            "user_agent": session.user_agent,
            "revoked_at": session.revoked_at,
            "now": self._clock.now(),
            "sweep": SWEEP_LIMIT,
        }
        await execute(self._store, PUT_SESSION, params)

    async def get(self, session_id: UUID) -> Session | None:
        rows, _ = await execute(self._store, GET_SESSION, {"id": session_id})
        return _session(rows[0]) if rows else None

    async def rotate(
        self,
        session_id: UUID,
        expected_hash: str,
        new_hash: str,
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        _, changed = await execute(
            self._store,
            ROTATE,
            {
                "id": session_id,
                "expected": expected_hash,
                "new_hash": new_hash,
                "expires_at": expires_at,
                "now": now,
            },
        )
        return changed == 1

    async def revoke(self, session_id: UUID) -> None:
        await execute(self._store, REVOKE, {"id": session_id, "now": self._clock.now()})

    async def revoke_all(self, user_id: UserId, *, keep: UUID | None = None) -> int:
        """Revoke every session of the user but ``keep``; how many were not revoked before."""
        _, count = await execute(
            self._store, REVOKE_ALL, {"user_id": user_id, "now": self._clock.now(), "keep": keep}
        )
        return max(count, 0)


class PostgresOneTimeTokens:
    """Single-use tokens in ``one_time_tokens``, expiring ``ttl_seconds`` after ``put`` by
    the clock's wall time (shared by processes: no monotonic clock).

    ``take`` is one ``DELETE … RETURNING``, so of two takes of one token (in any processes)
    exactly one gets the subject; an expired token is deleted and gives ``None``. Each
    ``put`` also deletes up to ``SWEEP_LIMIT`` tokens that have expired.
    """

    __slots__ = ("_clock", "_store")

    def __init__(self, store: PostgresStore, clock: ports.Clock) -> None:
        self._store = store
        self._clock = clock

    async def put(self, token_hash: str, subject: str, ttl_seconds: int) -> None:
        now = self._clock.now()
        params: dict[str, Any] = {
            "token_hash": token_hash,
            "subject": subject,
            "expires_at": now + timedelta(seconds=ttl_seconds),
            "now": now,
            "sweep": SWEEP_LIMIT,
        }
        await execute(self._store, PUT_TOKEN, params)

    async def take(self, token_hash: str) -> str | None:
        rows, _ = await execute(self._store, TAKE_TOKEN, {"token_hash": token_hash})
        if not rows:
            return None
        row = rows[0]
        return str(row["subject"]) if self._clock.now() < row["expires_at"] else None

    async def forget(self, subject: str) -> int:
        _, count = await execute(self._store, FORGET_TOKENS, {"subject": subject})
        return max(count, 0)


def _conforms(
    sessions: PostgresSessionStore, tokens: PostgresOneTimeTokens
) -> tuple[ports.SessionStore, ports.OneTimeTokens]:
    """Never called: mypy checks here that the classes match their ports."""
    return sessions, tokens
