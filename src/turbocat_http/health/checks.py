"""Probing the dependencies: each check answers within its timeout and never raises."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

from turbocat_adapters.memory import InProcessQueue
from turbocat_adapters.store_contract import Store
from turbocat_core.errors import ExternalServiceError
from turbocat_http.health.schemas import Checks, DatabaseCheck, QueueCheck, RedisCheck

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


async def check_redis(client: Any, timeout: float = CHECK_TIMEOUT) -> RedisCheck:
    """``PING`` with its latency; ``not configured`` without a Redis URL."""
    if client is None:
        return RedisCheck(status="not configured")
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await client.ping()
    except TimeoutError:
        logger.warning("health: Redis did not answer within %ss", timeout)
        return RedisCheck(status="down", error="timed out")
    except Exception as error:  # a probe must answer, whatever the client raised
        logger.warning("health: Redis is down: %s", error)
        return RedisCheck(status="down", error="unreachable")
    return RedisCheck(status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 3))


async def check_queue(queue: object, timeout: float = CHECK_TIMEOUT) -> QueueCheck:
    """What the queue can tell: RQ counts its jobs and workers; the in-process queue knows
    its depth only."""
    if isinstance(queue, InProcessQueue):
        return QueueCheck(
            kind="in-process",
            depth=queue.pending,
            note="the in-process queue does not count failed jobs (it logs each failure)",
        )
    health = getattr(queue, "health", None)
    if health is None:
        return QueueCheck(kind="unknown", note="this queue reports no figures")
    try:
        async with asyncio.timeout(timeout):
            figures = await health()
    except (TimeoutError, ExternalServiceError):
        logger.warning("health: the queue did not answer")
        return QueueCheck(kind="rq", status="down", note="Redis did not answer")
    return QueueCheck(
        kind="rq",
        depth=figures.depth,
        scheduled=figures.scheduled,
        started=figures.started,
        failed_jobs=figures.failed,
        workers=figures.workers,
        note=None if figures.workers else "no worker is alive: executions wait in the queue",
    )


async def check_all(store: Store, redis: Any, queue: object) -> Checks:
    """Every check at once (each within its own timeout)."""
    database, cache, jobs = await asyncio.gather(
        check_database(store), check_redis(redis), check_queue(queue)
    )
    return Checks(database=database, redis=cache, queue=jobs)


def ready(checks: Checks) -> bool:
    """Ready to serve: the database answers and is migrated, Redis (if any) answers. No
    worker alive is reported, not a reason to refuse requests (runs wait in the queue)."""
    return checks.database.ready and checks.redis.ready and checks.queue.status == "ok"
