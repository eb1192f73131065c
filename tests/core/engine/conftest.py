"""Fixtures for engine tests."""

from __future__ import annotations

import pytest

from tests.core.engine.harness import Harness


@pytest.fixture
async def h():
    harness = Harness()
    yield harness
    await harness.queue.close()
