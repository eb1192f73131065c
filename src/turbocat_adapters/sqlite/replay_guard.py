"""Keys accepted once within a time to live (the ReplayGuard port) in the SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from turbocat_adapters.sqlite.codec import ts
from turbocat_adapters.sqlite.session_store import write
from turbocat_core import ports

if TYPE_CHECKING:
    from turbocat_adapters.sqlite.store import SqliteStore

SWEEP_LIMIT: Final = 100
"""At most this many expired keys go per write (the rest with later ones)."""

# Inserts the key, or takes over its row when that has expired; a row comes back only then.
FIRST_USE: Final = """
INSERT INTO replay_keys (replay_key, expires_at) VALUES (:key, :expires_at)
ON CONFLICT (replay_key) DO UPDATE SET expires_at = excluded.expires_at
WHERE replay_keys.expires_at <= :now
RETURNING replay_key"""
SWEEP: Final = """
DELETE FROM replay_keys WHERE replay_key IN (
    SELECT replay_key FROM replay_keys
    WHERE expires_at <= :now AND replay_key <> :key
    ORDER BY expires_at
    LIMIT :sweep
)"""
FORGET: Final = "DELETE FROM replay_keys WHERE replay_key = :key"


class SqliteReplayGuard:
    """``replay_keys`` rows, expiring ``ttl_seconds`` after their first use by the clock's
    wall time (the file may be shared by processes: no monotonic clock).

    ``first_use`` is one upsert under the store's write lock, so of concurrent calls (in
    this process or another) exactly one inserts; it also deletes up to ``SWEEP_LIMIT``
    expired keys in the same transaction.
    """

    __slots__ = ("_clock", "_store")

    def __init__(self, store: SqliteStore, clock: ports.Clock) -> None:
        self._store = store
        self._clock = clock

    async def first_use(self, key: str, ttl_seconds: int) -> bool:
        now = self._clock.now()
        params = {
            "key": key,
            "now": ts(now),
            "expires_at": ts(now + timedelta(seconds=ttl_seconds)),
        }
        sweep = {"key": key, "now": params["now"], "sweep": SWEEP_LIMIT}

        def work(writer: sqlite3.Connection) -> bool:
            writer.execute(SWEEP, sweep)
            return bool(writer.execute(FIRST_USE, params).fetchall())

        first: bool = await write(self._store, work)
        return first

    async def forget(self, key: str) -> None:
        await write(self._store, lambda writer: writer.execute(FORGET, {"key": key}))


def _conforms(guard: SqliteReplayGuard) -> ports.ReplayGuard:
    """Never called: mypy checks here that the class matches its port."""
    return guard
