"""``GET /analytics/system-health``: what the process really knows about its dependencies.

The other analytics answers are the core's dataclasses (``turbocat_core.domain.analytics``).
"""

# No ``from __future__ import annotations``: msgspec and Litestar read these annotations.

from typing import Literal

import msgspec

from turbocat_http.health.schemas import DatabaseCheck


class RedisHealth(msgspec.Struct, frozen=True):
    """Turbocat has no Redis support yet: nothing is configured, so nothing is measured."""

    status: Literal["not configured"]


class QueueHealth(msgspec.Struct, frozen=True, rename="camel"):
    """The job queue as it knows itself; ``None`` where it keeps no such figure."""

    kind: str
    """``in-process``: asyncio tasks of this server process (no separate workers)."""
    depth: int | None
    """Jobs waiting or running in this process."""
    workers: str | None
    """``in-process``: the server process runs the jobs itself."""
    failed_jobs: int | None
    """Failed jobs, where the queue counts them."""
    note: str | None = None


class SystemHealth(msgspec.Struct, frozen=True, rename="camel"):
    status: Literal["ok", "degraded"]
    """``degraded`` while the database is down or has migrations pending."""
    version: str
    uptime_seconds: float
    database: DatabaseCheck
    redis: RedisHealth
    queue: QueueHealth
