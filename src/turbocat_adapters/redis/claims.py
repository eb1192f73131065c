"""Claims in Redis: one key per name holding its holder, with a millisecond expiry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from redis.asyncio import Redis

from turbocat_adapters.redis.client import Keys, translated
from turbocat_core import ports

# KEYS[1] claim; ARGV: holder, ttl ms, over (a holder prefix that may be taken over, or "")
CLAIM: Final = """
local current = redis.call('GET', KEYS[1])
if (not current) or current == ARGV[1]
   or (ARGV[3] ~= '' and string.sub(current, 1, string.len(ARGV[3])) == ARGV[3]) then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""
# KEYS[1] claim; ARGV: holder, ttl ms
RENEW: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
return 0
"""
# KEYS[1] claim; ARGV: holder
RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisClaims:
    """``ports.Claims`` shared by every process using the same Redis and key prefix.

    Each operation is one atomic script (one round trip); expiry is Redis's own, so a
    process that dies simply stops renewing and its claims lapse.
    """

    def __init__(self, client: Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._claim = client.register_script(CLAIM)
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)

    def _key(self, name: str) -> str:
        return self._keys("claim", name)

    async def claim(self, name: str, holder: str, ttl: float, *, over: str = "") -> bool:
        with translated():
            taken = await self._claim(keys=[self._key(name)], args=[holder, _ms(ttl), over])
        return bool(taken)

    async def renew(self, name: str, holder: str, ttl: float) -> bool:
        with translated():
            renewed = await self._renew(keys=[self._key(name)], args=[holder, _ms(ttl)])
        return bool(renewed)

    async def release(self, name: str, holder: str) -> None:
        with translated():
            await self._release(keys=[self._key(name)], args=[holder])

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        if not names:
            return []
        with translated():
            values = await self._client.mget([self._key(name) for name in names])
        return [None if value is None else str(value) for value in values]


def _conforms(claims: RedisClaims) -> ports.Claims:
    """Never called: mypy checks here that the class matches its port."""
    return claims
