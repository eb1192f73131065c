"""Fixtures giving each contract suite every adapter of its port (add new adapters here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contracts.factories import T0
from tests.contracts.parents import with_parents
from tests.databases import STORE_KINDS, empty_store
from turbocat_adapters.memory import (
    ManualClock,
    MemoryOneTimeTokens,
    MemoryRateLimiter,
    MemorySessionStore,
)
from turbocat_core import ports

# One entry per adapter of a port; Redis joins the three service lists.
STORES = STORE_KINDS
SESSION_STORES = ["memory"]
TOKEN_STORES = ["memory"]
RATE_LIMITERS = ["memory"]


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


@pytest.fixture(params=SESSION_STORES)
async def session_store(
    request: pytest.FixtureRequest, clock: ManualClock
) -> AsyncIterator[ports.SessionStore]:
    if request.param == "memory":
        yield MemorySessionStore(clock)
    else:  # pragma: no cover
        raise AssertionError(request.param)


@pytest.fixture(params=TOKEN_STORES)
async def one_time_tokens(
    request: pytest.FixtureRequest, clock: ManualClock
) -> AsyncIterator[ports.OneTimeTokens]:
    if request.param == "memory":
        yield MemoryOneTimeTokens(clock)
    else:  # pragma: no cover
        raise AssertionError(request.param)


@pytest.fixture(params=RATE_LIMITERS)
async def rate_limiter(
    request: pytest.FixtureRequest, clock: ManualClock
) -> AsyncIterator[ports.RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter(clock)
    else:  # pragma: no cover
        raise AssertionError(request.param)
