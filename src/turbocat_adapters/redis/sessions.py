"""Login sessions in Redis: a hash per session expiring with it, a set of ids per user."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Final
from uuid import UUID

from redis.asyncio import Redis

from turbocat_adapters.redis.client import Keys, text, translated
from turbocat_core import ports
from turbocat_core.domain.common import UserId
from turbocat_core.domain.session import Session

MIN_TTL_MS: Final = 1000
"""A session put already past its expiry is kept this long (an expiry in the past would
delete it at once, before anyone could read it back)."""

# Scripts name the keys of other users and sessions from what they read (ARGV holds the
# namespace): one Redis server (or primary), not Redis Cluster.

# KEYS: session, its user's set. ARGV: ttl ms, session id, user id, user-set namespace,
# then field, value pairs (absent fields are None).
_PUT: Final = """
local old = redis.call('HGET', KEYS[1], 'user_id')
if old and old ~= ARGV[3] then
  redis.call('SREM', ARGV[4] .. old, ARGV[2])
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
local ttl = tonumber(ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
"""

# KEYS: session. ARGV: expected hash, new hash, expires_at, now, ttl ms, user-set namespace.
_ROTATE: Final = """
local current = redis.call('HMGET', KEYS[1], 'refresh_hash', 'revoked_at', 'user_id')
if current[1] ~= ARGV[1] or current[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'refresh_hash', ARGV[2], 'expires_at', ARGV[3],
  'last_used_at', ARGV[4])
local ttl = tonumber(ARGV[5])
redis.call('PEXPIRE', KEYS[1], ttl)
local user_key = ARGV[6] .. current[3]
if redis.call('PTTL', user_key) < ttl then
  redis.call('PEXPIRE', user_key, ttl)
end
return 1
"""

# KEYS: session. ARGV: now. The first revocation time stays.
_REVOKE: Final = """
local current = redis.call('HMGET', KEYS[1], 'id', 'revoked_at')
if current[1] and not current[2] then
  redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1])
  return 1
end
return 0
"""

# KEYS: the user's set. ARGV: session namespace, now, the id to keep ('' for none), user id.
# Ids whose session has expired (or was put again for another user) leave the set.
_REVOKE_ALL: Final = """
local count = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[3] then
    local key = ARGV[1] .. id
    local current = redis.call('HMGET', key, 'user_id', 'revoked_at')
    if not current[1] or current[1] ~= ARGV[4] then
      redis.call('SREM', KEYS[1], id)
    elseif not current[2] then
      redis.call('HSET', key, 'revoked_at', ARGV[2])
      count = count + 1
    end
  end
end
return count
"""


def _ttl_ms(expires_at: datetime, now: datetime) -> int:
    return max(math.ceil((expires_at - now).total_seconds() * 1000), MIN_TTL_MS)


def _encode(session: Session) -> list[str]:
    values: dict[str, str | datetime | UUID | None] = {
        "id": session.id,
        "user_id": session.user_id,
        "refresh_hash": session.refresh_hash,
        "created_at": session.created_at,
        "expires_at": session.expires_at,
        "last_used_at": session.last_used_at,
        "ip_address": session.ip_address,
        "user_agent": session.user_agent,
        "revoked_at": session.revoked_at,
    }
    pairs: list[str] = []
    for name, value in values.items():
        if value is not None:
            pairs += [name, value.isoformat() if isinstance(value, datetime) else str(value)]
    return pairs


def _decode(fields: dict[str, str]) -> Session:
    def moment(name: str) -> datetime | None:
        raw = fields.get(name)
        return datetime.fromisoformat(raw) if raw is not None else None

    return Session(
        id=UUID(fields["id"]),
        user_id=UserId(UUID(fields["user_id"])),
        refresh_hash=fields["refresh_hash"],
        created_at=datetime.fromisoformat(fields["created_at"]),
        expires_at=datetime.fromisoformat(fields["expires_at"]),
        last_used_at=moment("last_used_at"),
        ip_address=fields.get("ip_address"),
        user_agent=fields.get("user_agent"),
        revoked_at=moment("revoked_at"),
    )


class RedisSessionStore:
    """Sessions as ``MemorySessionStore`` keeps them, shared by every process on one Redis.

    Each session is a hash (datetimes in ISO 8601 with their offset; absent fields are
    None) that expires at the session's ``expires_at`` (by the injected clock), so expired
    sessions vanish by themselves; a set per user lists its session ids for
    ``revoke_all``. Every call is one script or command: ``put`` replaces the whole
    session, ``rotate`` is a compare-and-set, ``revoke`` keeps the first revocation time,
    ``revoke_all`` answers how many sessions it newly revoked. ``ExternalServiceError``
    when Redis fails.
    """

    __slots__ = ("_clock", "_keys", "_put", "_redis", "_revoke", "_revoke_all", "_rotate")

    def __init__(self, redis: Redis, keys: Keys, clock: ports.Clock) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock
        self._put = redis.register_script(_PUT)
        self._rotate = redis.register_script(_ROTATE)
        self._revoke = redis.register_script(_REVOKE)
        self._revoke_all = redis.register_script(_REVOKE_ALL)

    def _session_key(self, session_id: UUID) -> str:
        return self._keys("session", str(session_id))

    def _user_key(self, user_id: UUID) -> str:
        return self._keys("user-sessions", str(user_id))

    async def put(self, session: Session) -> None:
        ttl = _ttl_ms(session.expires_at, self._clock.now())
        keys = [self._session_key(session.id), self._user_key(session.user_id)]
        args: list[str | int] = [
            ttl,
            str(session.id),
            str(session.user_id),
            self._keys.namespace("user-sessions"),
            *_encode(session),
        ]
        with translated():
            await self._put(keys=keys, args=args)

    async def get(self, session_id: UUID) -> Session | None:
        with translated():
            reply = await self._redis.hgetall(self._session_key(session_id))
        return _decode({text(k): text(v) for k, v in reply.items()}) if reply else None

    async def rotate(
        self,
        session_id: UUID,
        expected_hash: str,
        new_hash: str,
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        args: list[str | int] = [
            expected_hash,
            new_hash,
            expires_at.isoformat(),
            now.isoformat(),
            _ttl_ms(expires_at, now),
            self._keys.namespace("user-sessions"),
        ]
        with translated():
            swapped = await self._rotate(keys=[self._session_key(session_id)], args=args)
        return bool(swapped)

    async def revoke(self, session_id: UUID) -> None:
        now = self._clock.now().isoformat()
        with translated():
            await self._revoke(keys=[self._session_key(session_id)], args=[now])

    async def revoke_all(self, user_id: UserId, *, keep: UUID | None = None) -> int:
        args = [
            self._keys.namespace("session"),
            self._clock.now().isoformat(),
            "" if keep is None else str(keep),
            str(user_id),
        ]
        with translated():
            count = await self._revoke_all(keys=[self._user_key(user_id)], args=args)
        return int(count)


def _conforms(sessions: RedisSessionStore) -> ports.SessionStore:
    """Never called: mypy checks here that the class matches its port."""
    return sessions
