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


class RedisCheck(msgspec.Struct, frozen=True, rename="camel"):
    status: Literal["ok", "down", "not configured"]
    """``not configured``: no ``TURBOCAT_REDIS_URL`` (one process, no fleet)."""
    latency_ms: float | None = None
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.status != "down"


class QueueCheck(msgspec.Struct, frozen=True, rename="camel"):
    """The job queue as it knows itself; ``None`` where it keeps no such figure."""

    kind: Literal["in-process", "rq", "unknown"]
    """``in-process``: asyncio tasks of this server process; ``rq``: the fleet's workers."""
    depth: int | None = None
    """Jobs waiting to start (in-process: waiting or running in this process)."""
    scheduled: int | None = None
    """Jobs waiting for a time: parked WAITs, runs held back by a concurrency limit."""
    started: int | None = None
    """Jobs a worker has taken (each hands its run to the worker's runtime at once)."""
    failed_jobs: int | None = None
    workers: int | None = None
    """Workers alive on the queue (``rq``); the in-process queue has none of its own."""
    status: Literal["ok", "down"] = "ok"
    note: str | None = None


class Checks(msgspec.Struct, frozen=True):
    database: DatabaseCheck
    redis: RedisCheck
    queue: QueueCheck


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
