"""What the processes of one Turbocat share: this process's own parts, or a fleet's in Redis.

The container picks one of the two sets, once (``Container.shared``): with
``TURBOCAT_REDIS_URL``, Redis adapters and the RQ queue, so every server and worker agrees
on sessions, limits, claims, cancellation requests and accepted webhooks; without, the
in-process ones and the store's, and a queue of asyncio tasks of this process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from turbocat_adapters.memory import (
    InProcessCancellation,
    InProcessQueue,
    MemoryClaims,
    MemoryRateLimiter,
)
from turbocat_adapters.memory.api_usage import MemoryApiUsage
from turbocat_core.errors import ValidationFailed

if TYPE_CHECKING:
    from redis import Redis as SyncRedis
    from redis.asyncio import Redis

    from turbocat_adapters.memory.tasks import Runner
    from turbocat_adapters.settings import Settings
    from turbocat_adapters.store_contract import Store
    from turbocat_adapters.tracing.spans import Tracing
    from turbocat_core.ports.api_usage import ApiUsage
    from turbocat_core.ports.clock import Clock
    from turbocat_core.ports.coordination import CancellationSignal, Claims, JobQueue
    from turbocat_core.ports.security import OneTimeTokens, RateLimiter, ReplayGuard, SessionStore

PARK_WAITS_OVER: Final = 5.0
"""In a fleet, a run whose running steps are all WAITs with more than 5 s to go leaves its
worker and is queued again for when the first one ends."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedParts:
    """The ports whose state every process of the deployment must see alike."""

    queue: JobQueue
    claims: Claims
    cancellation: CancellationSignal
    sessions: SessionStore
    reset_tokens: OneTimeTokens
    replay_guard: ReplayGuard
    """Accepted webhooks."""
    limiter: RateLimiter
    schedule_claims: Claims | None = None
    """What schedules are fired under: claims where several processes fire them, else none."""
    park_waits_over: float | None = None
    """``EngineSettings.park_waits_over``: only a queue of many workers gains by parking."""
    redis: Redis | None = None
    """The fleet's client; whoever closes the store closes it too (``close_redis``)."""
    rq_connection: SyncRedis | None = None
    """RQ's own (blocking) client, for the workers and RQ's scheduler."""
    api_usage: ApiUsage = field(default_factory=MemoryApiUsage)
    """What the API answered per minute (``GET /analytics/system-health``)."""


def local_parts(store: Store, clock: Clock, runner: Runner) -> SharedParts:
    """One process: its memory and its store; the queue runs ``runner`` as asyncio tasks."""
    return SharedParts(
        queue=InProcessQueue(runner, clock),
        claims=MemoryClaims(clock),
        cancellation=InProcessCancellation(),
        sessions=store.session_store(clock),
        reset_tokens=store.one_time_tokens(clock),
        replay_guard=store.replay_guard(clock),
        limiter=MemoryRateLimiter(clock),
    )


def fleet_parts(settings: Settings, clock: Clock, tracing: Tracing | None = None) -> SharedParts:
    """A fleet on ``settings.redis_url`` (clients connect when first used), its keys under
    ``settings.redis_prefix``; the RQ queue's workers run the jobs (each job carries the
    trace context it was queued in, when tracing)."""
    assert settings.redis_url is not None
    try:
        from turbocat_adapters.redis import (
            Keys,
            RedisOneTimeTokens,
            RedisRateLimiter,
            RedisReplayGuard,
            RedisSessionStore,
            redis_client,
        )
        from turbocat_adapters.redis.api_usage import RedisApiUsage
        from turbocat_adapters.redis.cancellation import RedisCancellation
        from turbocat_adapters.redis.claims import RedisClaims
        from turbocat_adapters.rq.queue import RqQueue, sync_redis
    except ImportError:
        raise ValidationFailed.field(
            "TURBOCAT_REDIS_URL", "the fleet needs its drivers: pip install 'turbocat[redis]'"
        ) from None
    redis = redis_client(settings.redis_url)
    connection = sync_redis(settings.redis_url)
    keys = Keys(settings.redis_prefix)
    claims = RedisClaims(redis, keys)
    return SharedParts(
        queue=RqQueue(
            connection,
            settings.redis_prefix,
            claims,
            trace_carrier=None if tracing is None else tracing.carrier,
        ),
        claims=claims,
        cancellation=RedisCancellation(redis, keys),
        sessions=RedisSessionStore(redis, keys, clock),
        reset_tokens=RedisOneTimeTokens(redis, keys, clock),
        replay_guard=RedisReplayGuard(redis, keys, clock),
        limiter=RedisRateLimiter(redis, keys, clock),
        schedule_claims=claims,
        park_waits_over=PARK_WAITS_OVER,
        redis=redis,
        rq_connection=connection,
        api_usage=RedisApiUsage(redis, keys),
    )
