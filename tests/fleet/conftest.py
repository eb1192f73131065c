"""A fleet per test: its own PostgreSQL database, Redis prefix and data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import (
    REDIS_URL,
    redis_prefix,
    require_postgres,
    require_redis,
    temporary_database,
)
from tests.fleet.fleet import Fleet


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    require_postgres()
    require_redis()
    with temporary_database("turbocat_fleet") as dsn, redis_prefix() as prefix:
        processes = Fleet(tmp_path / "data", dsn, REDIS_URL, prefix)
        try:
            yield processes
        finally:
            processes.close()
