"""Keys accepted once within a time to live (the ReplayGuard port) in PostgreSQL.

Not part of a unit of work: each call is one autocommitted statement on a pooled
connection, with the clock's time, never the server's ``now()``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from turbocat_adapters.postgres.session_store import SWEEP_LIMIT, execute
from turbocat_core import ports

if TYPE_CHECKING:
    from turbocat_adapters.postgres.store import PostgresStore

# Inserts the key, or takes over its row when that has expired; a row comes back only then.
# A concurrent insert of the same key waits for this one and then finds a live row: one
# winner. The sweep skips the key itself (its row is the insert's business) and rows that
# another statement holds.
FIRST_USE: Final = """
WITH swept AS (
    DELETE FROM replay_keys WHERE replay_key IN (
        SELECT replay_key FROM replay_keys
        WHERE expires_at <= %(now)s AND replay_key <> %(key)s
        ORDER BY expires_at
        LIMIT %(sweep)s
        FOR UPDATE SKIP LOCKED
    )
)
INSERT INTO replay_keys (replay_key, expires_at) VALUES (%(key)s, %(expires_at)s)
ON CONFLICT (replay_key) DO UPDATE SET expires_at = EXCLUDED.expires_at
WHERE replay_keys.expires_at <= %(now)s
RETURNING replay_key"""
FORGET: Final = "DELETE FROM replay_keys WHERE replay_key = %(key)s"


class PostgresReplayGuard:
    """``replay_keys`` rows, expiring ``ttl_seconds`` after their first use by the clock's
    wall time (shared by processes); each ``first_use`` also deletes up to ``SWEEP_LIMIT``
    expired keys."""

    __slots__ = ("_clock", "_store")

    def __init__(self, store: PostgresStore, clock: ports.Clock) -> None:
        self._store = store
        self._clock = clock

    async def first_use(self, key: str, ttl_seconds: int) -> bool:
        now = self._clock.now()
        params: dict[str, Any] = {
            "key": key,
            "now": now,
            "expires_at": now + timedelta(seconds=ttl_seconds),
            "sweep": SWEEP_LIMIT,
        }
        rows, _ = await execute(self._store, FIRST_USE, params)
        return bool(rows)

    async def forget(self, key: str) -> None:
        await execute(self._store, FORGET, {"key": key})


def _conforms(guard: PostgresReplayGuard) -> ports.ReplayGuard:
    """Never called: mypy checks here that the class matches its port."""
    return guard
