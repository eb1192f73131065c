"""A sliding-window rate limiter in Redis: a sorted set of hit times per key, one script."""

from __future__ import annotations

import math
import uuid
from typing import Final

from redis.asyncio import Redis

from turbocat_adapters.redis.client import Keys, micros, translated
from turbocat_core import ports
from turbocat_core.ports.security import RateDecision

# KEYS: the key's sorted set. ARGV: now, horizon (both µs), limit, count ('1' or '0'),
# a unique member, the window in ms. Times come from the caller as strings: numbers Lua
# hands to Redis are formatted with 14 digits, too few for microseconds since 1970.
# Returns {allowed, hits in the window, the oldest hit's time (when there is one)}.
_DECIDE: Final = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local hits = redis.call('ZCARD', KEYS[1])
local allowed = 0
if hits < tonumber(ARGV[3]) then
  allowed = 1
  if ARGV[4] == '1' then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
    redis.call('PEXPIRE', KEYS[1], ARGV[6])
    hits = hits + 1
  end
end
if hits == 0 then
  return {allowed, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {allowed, hits, oldest[2]}
"""


class RedisRateLimiter:
    """``MemoryRateLimiter``'s sliding window, atomic across every process on one Redis.

    Hit times are the injected clock's wall time (``now()``: shared by processes, unlike a
    monotonic reading) in microseconds. Each call is one script, so concurrent hits never
    exceed the limit; a refused hit and ``peek`` count nothing. ``reset_after`` is the time
    until the oldest hit in the window leaves it (the window itself when it is empty). A
    key expires one window after its last counted hit. ``ExternalServiceError`` when Redis
    fails.
    """

    __slots__ = ("_clock", "_decide", "_keys", "_redis")

    def __init__(self, redis: Redis, keys: Keys, clock: ports.Clock) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock
        self._decide = redis.register_script(_DECIDE)

    async def hit(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        return await self._decision(key, limit, window_seconds, count=True)

    async def peek(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        return await self._decision(key, limit, window_seconds, count=False)

    async def reset(self, key: str) -> None:
        with translated():
            await self._redis.delete(self._keys("rate", key))

    async def _decision(
        self, key: str, limit: int, window_seconds: float, *, count: bool
    ) -> RateDecision:
        now = micros(self._clock.now())
        window = round(window_seconds * 1_000_000)
        args: list[str | int] = [
            str(now),
            str(now - window),
            limit,
            "1" if count else "0",
            uuid.uuid4().hex,
            max(math.ceil(window_seconds * 1000), 1),
        ]
        with translated():
            reply = await self._decide(keys=[self._keys("rate", key)], args=args)
        allowed, hits = int(reply[0]), int(reply[1])
        reset_after = (int(float(reply[2])) + window - now) / 1_000_000 if hits else window_seconds
        return RateDecision(
            allowed=bool(allowed),
            limit=limit,
            remaining=max(limit - hits, 0),
            reset_after=max(reset_after, 0.0),
        )


def _conforms(limiter: RedisRateLimiter) -> ports.RateLimiter:
    """Never called: mypy checks here that the class matches its port."""
    return limiter
