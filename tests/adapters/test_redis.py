"""The Redis adapters beyond their contract suites: two clients (two processes' worth) share
sessions, tokens, replay keys and limits; keys stay under the prefix and expire; Redis
failures come out as ExternalServiceError."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta, timezone
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from tests.contracts import factories as make
from tests.contracts.factories import T0, at
from tests.databases import REDIS_URL
from turbocat_adapters.memory import ManualClock
from turbocat_adapters.redis import (
    Keys,
    RedisOneTimeTokens,
    RedisRateLimiter,
    RedisReplayGuard,
    RedisSessionStore,
    redis_client,
)
from turbocat_core.errors import ExternalServiceError


@contextlib.asynccontextmanager
async def client() -> AsyncIterator[Redis]:
    redis = redis_client(REDIS_URL)
    try:
        yield redis
    finally:
        await redis.aclose()


@pytest.fixture
async def two(redis_keys) -> AsyncIterator[tuple[Redis, Redis, Keys]]:
    """Two separate clients (as two processes would hold) over one prefix."""
    async with client() as first, client() as second:
        yield first, second, Keys(redis_keys)


async def test_two_instances_share_sessions(two):
    first, second, keys = two
    clock = ManualClock(T0)
    a, b = RedisSessionStore(first, keys, clock), RedisSessionStore(second, keys, clock)
    session = make.session()
    other = make.session(session.user_id)
    await a.put(session)
    await b.put(other)
    assert await b.get(session.id) == session
    assert await b.rotate(session.id, session.refresh_hash, "h2", at(60), at(1))
    assert not await a.rotate(session.id, session.refresh_hash, "h3", at(60), at(1))
    assert (await a.get(session.id)).refresh_hash == "h2"
    clock.advance(2)
    assert await a.revoke_all(session.user_id, keep=other.id) == 1
    assert (await b.get(session.id)).revoked_at == at(2)
    assert (await b.get(other.id)).revoked_at is None


async def test_racing_rotations_from_two_instances_have_one_winner(two):
    first, second, keys = two
    clock = ManualClock(T0)
    stores = [RedisSessionStore(first, keys, clock), RedisSessionStore(second, keys, clock)]
    session = make.session()
    await stores[0].put(session)
    results = await asyncio.gather(
        *(
            stores[n % 2].rotate(session.id, session.refresh_hash, f"h{n}", at(60), at(1))
            for n in range(20)
        )
    )
    assert results.count(True) == 1
    assert (await stores[1].get(session.id)).refresh_hash == f"h{results.index(True)}"


async def test_two_instances_share_limits(two):
    first, second, keys = two
    clock = ManualClock(T0)
    a, b = RedisRateLimiter(first, keys, clock), RedisRateLimiter(second, keys, clock)
    decisions = await asyncio.gather(
        *((a if n % 2 else b).hit("login:account:x", 10, 60) for n in range(50))
    )
    assert sum(d.allowed for d in decisions) == 10
    assert not (await a.peek("login:account:x", 10, 60)).allowed
    await b.reset("login:account:x")
    assert (await a.peek("login:account:x", 10, 60)).remaining == 10


async def test_two_instances_share_one_time_tokens(two):
    first, second, keys = two
    clock = ManualClock(T0)
    a, b = RedisOneTimeTokens(first, keys, clock), RedisOneTimeTokens(second, keys, clock)
    await a.put("hash-1", "user-1", 60)
    await a.put("hash-2", "user-1", 60)
    await a.put("hash-3", "user-2", 60)
    results = await asyncio.gather(*(b.take("hash-1") for _ in range(4)), a.take("hash-1"))
    assert results.count("user-1") == 1
    assert await b.forget("user-1") == 1  # hash-2; hash-1 is spent
    assert await a.take("hash-2") is None
    assert await b.take("hash-3") == "user-2"


async def test_a_token_put_again_for_another_subject_is_not_forgotten_with_the_first(two):
    first, _, keys = two
    tokens = RedisOneTimeTokens(first, keys, ManualClock(T0))
    await tokens.put("hash-1", "user-1", 60)
    await tokens.put("hash-1", "user-2", 60)
    assert await tokens.forget("user-1") == 0
    assert await tokens.take("hash-1") == "user-2"


async def test_a_session_moved_to_another_user_leaves_the_first_users_index(two):
    first, _, keys = two
    store = RedisSessionStore(first, keys, ManualClock(T0))
    session = make.session()
    moved = make.session(id=session.id)
    await store.put(session)
    await store.put(moved)
    assert await store.revoke_all(session.user_id) == 0
    assert await store.revoke_all(moved.user_id) == 1


async def test_times_keep_their_offset(two):
    first, _, keys = two
    store = RedisSessionStore(first, keys, ManualClock(T0))
    paris = timezone(timedelta(hours=1))
    session = make.session(
        created_at=T0.astimezone(paris), last_used_at=at(0.000001).astimezone(paris)
    )
    await store.put(session)
    stored = await store.get(session.id)
    assert stored == session
    assert stored.created_at.utcoffset() == timedelta(hours=1)


async def test_every_key_is_under_the_prefix_and_expires(two):
    first, _, keys = two
    clock = ManualClock(T0)
    session = make.session(expires_at=at(3600))
    await RedisSessionStore(first, keys, clock).put(session)
    await RedisOneTimeTokens(first, keys, clock).put("hash-1", "user-1", 600)
    await RedisRateLimiter(first, keys, clock).hit("key", 5, 30)
    assert await RedisReplayGuard(first, keys, clock).first_use("webhook:d:sig", 600)
    found = sorted([key async for key in first.scan_iter(match=f"{keys.prefix}:*")])
    assert found == sorted(
        [
            f"{keys.prefix}:session:{session.id}",
            f"{keys.prefix}:user-sessions:{session.user_id}",
            f"{keys.prefix}:token:hash-1",
            f"{keys.prefix}:subject-tokens:user-1",
            f"{keys.prefix}:rate:key",
            f"{keys.prefix}:replay:webhook:d:sig",
        ]
    )
    ttls = {key.split(":")[2]: await first.pttl(key) for key in found}
    assert 3_590_000 < ttls["session"] <= 3_600_000
    assert 3_590_000 < ttls["user-sessions"] <= 3_600_000
    assert 590_000 < ttls["token"] <= 600_000
    assert 590_000 < ttls["subject-tokens"] <= 600_000
    assert 20_000 < ttls["rate"] <= 30_000
    assert 590_000 < ttls["replay"] <= 600_000


async def test_a_redis_that_is_down_raises_external_service_error():
    redis = redis_client("redis://127.0.0.1:1/0")  # nothing listens on port 1
    clock = ManualClock(T0)
    keys = Keys(f"tctest:{uuid4().hex}")
    try:
        with pytest.raises(ExternalServiceError) as raised:
            await RedisRateLimiter(redis, keys, clock).hit("key", 1, 60)
        assert raised.value.service == "redis"
        with pytest.raises(ExternalServiceError):
            await RedisSessionStore(redis, keys, clock).get(uuid4())
        with pytest.raises(ExternalServiceError):
            await RedisOneTimeTokens(redis, keys, clock).take("hash")
        with pytest.raises(ExternalServiceError):
            await RedisReplayGuard(redis, keys, clock).first_use("key", 60)
    finally:
        await redis.aclose()
