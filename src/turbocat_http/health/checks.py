"""Probing the dependencies: each check answers within its timeout and never raises."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from turbocat_adapters.stores import Store
from turbocat_core.errors import ExternalServiceError
from turbocat_http.health.schemas import DatabaseCheck

logger = logging.getLogger("turbocat.http")

CHECK_TIMEOUT: Final = 3.0


async def check_database(store: Store, timeout: float = CHECK_TIMEOUT) -> DatabaseCheck:
    """``ping`` (with its latency), then the migrations still pending."""
    kind = str(getattr(store, "kind", "unknown"))
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await store.ping()
        latency = round((time.perf_counter() - started) * 1000, 3)
        async with asyncio.timeout(timeout):
            states = await store.migration_status()
    except TimeoutError:
        logger.warning("health: the %s store did not answer within %ss", kind, timeout)
        return DatabaseCheck(status="down", kind=kind, error="timed out")
    except ExternalServiceError as error:
        logger.warning("health: the %s store is down: %s", kind, error.message)
        return DatabaseCheck(status="down", kind=kind, error="unreachable")
    except Exception:  # a probe must answer, whatever the store raised
        logger.exception("health: the %s store check failed", kind)
        return DatabaseCheck(status="down", kind=kind, error="check failed")
    pending = sum(1 for state in states if state.applied_at is None)
    return DatabaseCheck(status="ok", kind=kind, latency_ms=latency, pending_migrations=pending)
