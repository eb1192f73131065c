"""``GET /analytics/system-health``: what the process really knows about its dependencies.

The other analytics answers are the core's dataclasses (``turbocat_core.domain.analytics``).
"""

# No ``from __future__ import annotations``: msgspec and Litestar read these annotations.

from typing import Literal

import msgspec

from turbocat_http.health.schemas import DatabaseCheck, QueueCheck, RedisCheck


class SystemHealth(msgspec.Struct, frozen=True, rename="camel"):
    status: Literal["ok", "degraded"]
    """``degraded`` while the database is down or has migrations pending."""
    version: str
    uptime_seconds: float
    database: DatabaseCheck
    redis: RedisCheck
    queue: QueueCheck
