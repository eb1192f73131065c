"""Health reports: plain JSON objects, as load balancers and uptime checkers expect."""

# No ``from __future__ import annotations``: msgspec and Litestar read these annotations.

from typing import Literal

import msgspec


class DatabaseCheck(msgspec.Struct, frozen=True, rename="camel"):
    status: Literal["ok", "down"]
    kind: str
    """memory, sqlite or postgres"""
    latency_ms: float | None = None
    """How long ``ping`` took (absent when it failed)."""
    pending_migrations: int | None = None
    """Migrations not applied yet: the store is not ready until it is 0."""
    error: str | None = None
    """Why it is down, in a few words (details go to the server log)."""

    @property
    def ready(self) -> bool:
        return self.status == "ok" and not self.pending_migrations


class Checks(msgspec.Struct, frozen=True):
    database: DatabaseCheck


class HealthReport(msgspec.Struct, frozen=True, rename="camel"):
    status: Literal["ok", "degraded"]
    version: str
    uptime_seconds: float
    checks: Checks


class LiveReport(msgspec.Struct, frozen=True):
    status: Literal["ok"]


class ReadyReport(msgspec.Struct, frozen=True):
    status: Literal["ready", "unavailable"]
    checks: Checks
