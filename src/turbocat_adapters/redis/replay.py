"""Keys accepted once within a time to live (the ReplayGuard port) on one Redis."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from redis.asyncio import Redis

from turbocat_adapters.redis.client import Keys, micros, translated
from turbocat_core import ports

# KEYS: the replay key. ARGV: now and the deadline (microseconds of the injected clock),
# the time to live in ms. A key whose deadline has passed counts as absent even if Redis
# has not expired it yet (the clocks of Redis and of the callers need not agree).
_FIRST_USE: Final = """
local held = redis.call('GET', KEYS[1])
if held and tonumber(held) > tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


class RedisReplayGuard:
    """A key per accepted request, holding its deadline; Redis expires it after the time to
    live too, so nothing piles up. ``first_use`` is one script: of any number of concurrent
    calls (in any processes) exactly one gets ``True``. ``ExternalServiceError`` when Redis
    fails."""

    __slots__ = ("_clock", "_first_use", "_keys", "_redis")

    def __init__(self, redis: Redis, keys: Keys, clock: ports.Clock) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock
        self._first_use = redis.register_script(_FIRST_USE)

    async def first_use(self, key: str, ttl_seconds: int) -> bool:
        now = self._clock.now()
        deadline = micros(now + timedelta(seconds=ttl_seconds))
        args: list[str | int] = [micros(now), deadline, max(ttl_seconds * 1000, 1)]
        with translated():
            first = await self._first_use(keys=[self._keys("replay", key)], args=args)
        return int(first) == 1

    async def forget(self, key: str) -> None:
        with translated():
            await self._redis.delete(self._keys("replay", key))


def _conforms(guard: RedisReplayGuard) -> ports.ReplayGuard:
    """Never called: mypy checks here that the class matches its port."""
    return guard
