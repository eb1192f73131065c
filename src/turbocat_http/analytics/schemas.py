"""``GET /analytics/system-health``: what the process really knows about its dependencies.

The other analytics answers are the core's dataclasses (``turbocat_core.domain.analytics``).
"""

# No ``from __future__ import annotations``: msgspec and Litestar read these annotations.

from typing import Literal

import msgspec

from turbocat_http.health.schemas import DatabaseCheck, QueueCheck, RedisCheck


class ApiTraffic(msgspec.Struct, frozen=True, rename="camel"):
    """The API's requests over the current minute and the ``minutes - 1`` before it, for
    the whole deployment. A figure that has no data is ``null``, and ``note`` says why."""

    minutes: int
    requests: int
    requests_per_minute: float
    p50_ms: float | None
    """Response times estimated from fixed latency buckets (5 ms ... 10 s)."""
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    """The share of 5xx answers."""
    client_error_rate: float | None
    """The share of 4xx answers."""
    note: str | None


class SystemHealth(msgspec.Struct, frozen=True, rename="camel"):
    status: Literal["ok", "degraded"]
    """``degraded`` while the database is down or has migrations pending."""
    version: str
    uptime_seconds: float
    database: DatabaseCheck
    redis: RedisCheck
    queue: QueueCheck
    api: list[ApiTraffic]
    """The last 5 and 60 minutes (requests to ``/api/v1`` routes)."""
