"""Redis adapters: login sessions, one-time tokens, replay keys and a sliding-window rate
limiter."""

from __future__ import annotations

from turbocat_adapters.redis.client import Keys, redis_client
from turbocat_adapters.redis.limiter import RedisRateLimiter
from turbocat_adapters.redis.replay import RedisReplayGuard
from turbocat_adapters.redis.sessions import RedisSessionStore
from turbocat_adapters.redis.tokens import RedisOneTimeTokens

__all__ = [
    "Keys",
    "RedisOneTimeTokens",
    "RedisRateLimiter",
    "RedisReplayGuard",
    "RedisSessionStore",
    "redis_client",
]
