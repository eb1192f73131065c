"""Fixtures giving each contract suite every adapter of its port (add new adapters here)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import pytest

from tests.contracts import factories as make
from tests.contracts.factories import T0
from tests.contracts.parents import with_parents
from tests.databases import REDIS_URL, STORE_KINDS, empty_store
from turbocat_adapters.memory import (
    ManualClock,
    MemoryOneTimeTokens,
    MemoryRateLimiter,
    MemoryReplayGuard,
    MemorySessionStore,
)
from turbocat_adapters.store_contract import Store
from turbocat_core import ports
from turbocat_core.domain.common import UserId
from turbocat_core.domain.session import Session
from turbocat_core.errors import Conflict

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from turbocat_adapters.redis import Keys

# One entry per adapter of a port.
STORES = STORE_KINDS
SESSION_STORES = ["memory", "sqlite", "postgres", "redis"]
TOKEN_STORES = ["memory", "sqlite", "postgres", "redis"]
REPLAY_GUARDS = ["memory", "sqlite", "postgres", "redis"]
RATE_LIMITERS = ["memory", "redis"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(params=STORES)
async def uow_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ports.UnitOfWorkFactory]:
    """A factory of units of work over a fresh, empty store of each kind."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with empty_store(request.param, tmp_path, dsn) as store:
        yield with_parents(store.unit_of_work)


@contextlib.asynccontextmanager
async def _redis(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Redis, Keys]]:
    """A client of the test Redis and keys under this test's own prefix (deleted after)."""
    from turbocat_adapters.redis import Keys, redis_client

    request.getfixturevalue("redis_url")
    client = redis_client(REDIS_URL)
    try:
        yield client, Keys(request.getfixturevalue("redis_keys"))
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def _empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with empty_store(request.param, tmp_path, dsn) as store:
        yield store


class SessionsWithUsers:
    """A SQL store's sessions whose ``put`` first adds the session's user if it is missing.

    The ``sessions`` table has a foreign key to ``users`` and the suite makes up user ids,
    so the user is added (active, not a stand-in) in a unit of work of its own, committed
    before the session is put. Everything else goes straight to the store's sessions.
    """

    def __init__(self, store: Store, inner: ports.SessionStore) -> None:
        self._store = store
        self._inner = inner

    async def put(self, session: Session) -> None:
        async with self._store.unit_of_work() as uow:
            if await uow.users.get(session.user_id) is None:
                with contextlib.suppress(Conflict):  # a concurrent put added it first
                    await uow.users.add(make.user(id=session.user_id))
                await uow.commit()
        await self._inner.put(session)

    async def get(self, session_id: UUID) -> Session | None:
        return await self._inner.get(session_id)

    async def rotate(
        self,
        session_id: UUID,
        expected_hash: str,
        new_hash: str,
        expires_at: datetime,
        now: datetime,
    ) -> bool:
        return await self._inner.rotate(session_id, expected_hash, new_hash, expires_at, now)

    async def revoke(self, session_id: UUID) -> None:
        await self._inner.revoke(session_id)

    async def revoke_all(self, user_id: UserId, *, keep: UUID | None = None) -> int:
        return await self._inner.revoke_all(user_id, keep=keep)


@pytest.fixture(params=SESSION_STORES)
async def session_store(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[ports.SessionStore]:
    if request.param == "memory":
        yield MemorySessionStore(clock)
        return
    if request.param == "redis":
        from turbocat_adapters.redis import RedisSessionStore

        async with _redis(request) as (client, keys):
            yield RedisSessionStore(client, keys, clock)
        return
    async with _empty_store(request, tmp_path) as store:
        yield SessionsWithUsers(store, store.session_store(clock))


@pytest.fixture(params=TOKEN_STORES)
async def one_time_tokens(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[ports.OneTimeTokens]:
    if request.param == "memory":
        yield MemoryOneTimeTokens(clock)
        return
    if request.param == "redis":
        from turbocat_adapters.redis import RedisOneTimeTokens

        async with _redis(request) as (client, keys):
            yield RedisOneTimeTokens(client, keys, clock)
        return
    async with _empty_store(request, tmp_path) as store:
        yield store.one_time_tokens(clock)


@pytest.fixture(params=REPLAY_GUARDS)
async def replay_guard(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[ports.ReplayGuard]:
    if request.param == "memory":
        yield MemoryReplayGuard(clock)
        return
    if request.param == "redis":
        from turbocat_adapters.redis import RedisReplayGuard

        async with _redis(request) as (client, keys):
            yield RedisReplayGuard(client, keys, clock)
        return
    async with _empty_store(request, tmp_path) as store:
        yield store.replay_guard(clock)


@pytest.fixture(params=RATE_LIMITERS)
async def rate_limiter(
    request: pytest.FixtureRequest, clock: ManualClock
) -> AsyncIterator[ports.RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter(clock)
    elif request.param == "redis":
        from turbocat_adapters.redis import RedisRateLimiter

        async with _redis(request) as (client, keys):
            yield RedisRateLimiter(client, keys, clock)
    else:  # pragma: no cover
        raise AssertionError(request.param)


CLAIMS = ["memory", "redis"]


@pytest.fixture(params=CLAIMS)
async def claims(
    request: pytest.FixtureRequest, clock: ManualClock
) -> AsyncIterator[tuple[ports.Claims, Callable[[float], Awaitable[None]]]]:
    """Claims of each kind, and how to let time pass for them (Redis expires keys in real
    time; the memory claims on the test's clock)."""
    if request.param == "memory":
        from turbocat_adapters.memory import MemoryClaims

        async def advance(seconds: float) -> None:
            clock.advance(seconds)

        yield MemoryClaims(clock), advance
        return
    from turbocat_adapters.redis.claims import RedisClaims

    async with _redis(request) as (client, keys):
        yield RedisClaims(client, keys), asyncio.sleep
