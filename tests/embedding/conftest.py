"""Store URLs for the embedding tests: a fresh SQLite file, a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import require_postgres, temporary_database


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty PostgreSQL database of this test's own (``Turbocat`` migrates it)."""
    require_postgres()
    with temporary_database("turbocat_embed") as dsn:
        yield dsn


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store kind in turn, empty."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return str(request.getfixturevalue("fresh_postgres"))


@pytest.fixture(params=["sqlite", "postgres"])
def durable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A durable store, empty: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return str(request.getfixturevalue("fresh_postgres"))
