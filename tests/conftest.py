"""Test-wide settings: bounded hypothesis profiles (CI uses the "ci" one)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, settings

from tests.databases import require_postgres, temporary_database

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


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
