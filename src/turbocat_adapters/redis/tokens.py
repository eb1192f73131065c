"""Single-use tokens in Redis: a string per token, taken with GETDEL; a set per subject."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from redis.asyncio import Redis

from turbocat_adapters.redis.client import Keys, micros, text, translated
from turbocat_core import ports

# KEYS: token, its subject's set. ARGV: value, ttl ms, token hash. The set lives as long
# as the subject's longest-lived token.
_PUT: Final = """
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
"""

# KEYS: the subject's set. ARGV: token namespace, subject. A listed token that was taken,
# expired or put again for another subject is left alone (its value names its subject).
_FORGET: Final = """
local count = 0
for _, token_hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. token_hash
  local value = redis.call('GET', key)
  if value then
    local sep = string.find(value, ':', 1, true)
    if sep and string.sub(value, sep + 1) == ARGV[2] then
      redis.call('DEL', key)
      count = count + 1
    end
  end
end
redis.call('DEL', KEYS[1])
return count
"""


class RedisOneTimeTokens:
    """Single-use tokens, as ``PostgresOneTimeTokens`` keeps them, on one Redis.

    A token's value is ``"<deadline>:<subject>"`` (the deadline in microseconds of the
    injected clock's wall time, shared by processes); its key expires after ``ttl_seconds``
    too, so nothing piles up. ``take`` is one ``GETDEL``: of any number of concurrent takes
    (in any processes) exactly one gets the subject, and only before the deadline.
    ``forget`` deletes every token of a subject in one script. ``ExternalServiceError``
    when Redis fails.
    """

    __slots__ = ("_clock", "_forget", "_keys", "_put", "_redis")

    def __init__(self, redis: Redis, keys: Keys, clock: ports.Clock) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock
        self._put = redis.register_script(_PUT)
        self._forget = redis.register_script(_FORGET)

    async def put(self, token_hash: str, subject: str, ttl_seconds: int) -> None:
        deadline = micros(self._clock.now() + timedelta(seconds=ttl_seconds))
        keys = [self._keys("token", token_hash), self._keys("subject-tokens", subject)]
        args: list[str | int] = [f"{deadline}:{subject}", max(ttl_seconds * 1000, 1), token_hash]
        with translated():
            await self._put(keys=keys, args=args)

    async def take(self, token_hash: str) -> str | None:
        with translated():
            value = await self._redis.getdel(self._keys("token", token_hash))
        if value is None:
            return None
        deadline, _, subject = text(value).partition(":")
        return subject if micros(self._clock.now()) < int(deadline) else None

    async def forget(self, subject: str) -> int:
        args = [self._keys.namespace("token"), subject]
        with translated():
            count = await self._forget(keys=[self._keys("subject-tokens", subject)], args=args)
        return int(count)


def _conforms(tokens: RedisOneTimeTokens) -> ports.OneTimeTokens:
    """Never called: mypy checks here that the class matches its port."""
    return tokens
