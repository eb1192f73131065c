"""``ports.ApiUsage`` for a fleet: every server's minutes added up in Redis.

Each minute is one small hash, ``<prefix>:api:<minute>`` (requests, 4xx, 5xx and one field
per latency bucket), kept two hours. A request only adds to this process's pending counts;
:meth:`RedisApiUsage.flush` (every second, from the server's lifespan, and before each read)
adds them to Redis in one pipeline. What a process counted but has not flushed yet (up to a
second of it) is missing from another process's read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from turbocat_adapters.memory.api_usage import added, count_in
from turbocat_adapters.redis.client import Keys, translated
from turbocat_core import ports
from turbocat_core.domain.api_traffic import KEPT_MINUTES, MinuteCounts

logger = logging.getLogger("turbocat.metrics")

TTL_SECONDS: Final = 2 * KEPT_MINUTES * 60
FLUSH_SECONDS: Final = 1.0
_REQUESTS, _CLIENT, _SERVER = "requests", "4xx", "5xx"


class RedisApiUsage:
    def __init__(self, redis: Redis, keys: Keys, now: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._keys = keys
        self._now = now
        self._pending: dict[int, MinuteCounts] = {}

    def record(self, status: int, seconds: float) -> None:
        count_in(self._pending, int(self._now() // 60), status, seconds)

    async def flush(self) -> None:
        """Add the pending counts to Redis; kept for the next flush if Redis fails."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        pipe = self._redis.pipeline(transaction=False)
        for minute, counts in pending.items():
            key = self._keys("api", str(minute))
            fields = {_REQUESTS: counts.requests, _CLIENT: counts.client_errors}
            fields[_SERVER] = counts.server_errors
            fields.update({f"b{index}": n for index, n in enumerate(counts.buckets)})
            for name, count in fields.items():
                if count:
                    pipe.hincrby(key, name, count)
            pipe.expire(key, TTL_SECONDS)
        try:
            await pipe.execute()
        except RedisError as error:
            logger.warning("API usage: Redis failed (%s); counts kept for the next flush", error)
            current = int(self._now() // 60)
            for minute, counts in pending.items():
                if minute > current - KEPT_MINUTES:
                    self._pending.setdefault(minute, MinuteCounts()).merge(counts)

    async def last_minutes(self, minutes: int) -> MinuteCounts:
        await self.flush()
        current = int(self._now() // 60)
        wanted = range(current - minutes + 1, current + 1)
        with translated():
            pipe = self._redis.pipeline(transaction=False)
            for minute in wanted:
                pipe.hgetall(self._keys("api", str(minute)))
            rows = await pipe.execute()
        by_minute = {minute: _counts(row) for minute, row in zip(wanted, rows, strict=True)}
        return added(by_minute, current, minutes)


def _counts(row: dict[str, str]) -> MinuteCounts:
    counts = MinuteCounts(
        requests=int(row.get(_REQUESTS, 0)),
        client_errors=int(row.get(_CLIENT, 0)),
        server_errors=int(row.get(_SERVER, 0)),
    )
    for index in range(len(counts.buckets)):
        counts.buckets[index] = int(row.get(f"b{index}", 0))
    return counts


def _conforms(usage: RedisApiUsage) -> ports.ApiUsage:
    """Never called: mypy checks here that the class matches its port."""
    return usage
