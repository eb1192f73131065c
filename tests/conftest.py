"""Test-wide settings: bounded hypothesis profiles (CI uses the "ci" one)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, settings

from tests.databases import (
    REDIS_URL,
    redis_prefix,
    require_postgres,
    require_redis,
    temporary_database,
)

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test's PostgreSQL variant (a ``"postgres"`` parameter) is ``slow``: the fast path,
    ``-m "not slow"``, runs the same tests on the memory and SQLite stores only."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and any(v == "postgres" for v in callspec.params.values()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A migrated PostgreSQL database for this test process (tests empty it as they need)."""
    require_postgres()
    from turbocat_adapters.postgres import PostgresStore

    with temporary_database() as dsn:

        async def migrate() -> None:
            store = PostgresStore(dsn, min_size=1, max_size=1)
            await store.open()
            try:
                await store.migrate()
            finally:
                await store.close()

        # A thread of its own: async tests ask for this fixture while their loop is running.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, migrate()).result()
        yield dsn


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis (``TURBOCAT_TEST_REDIS``); skips when it is down, fails under CI."""
    require_redis()
    return REDIS_URL


@pytest.fixture
def redis_keys(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted after the test."""
    with redis_prefix() as prefix:
        yield prefix
