"""The JobQueue port on RQ: one job per run of an execution, by dotted path, JSON payload."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from uuid import uuid4

from redis import Redis as SyncRedis
from redis.exceptions import RedisError
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from turbocat_core import ports
from turbocat_core.domain.common import ExecutionId
from turbocat_core.errors import ExternalServiceError
from turbocat_core.usecases.running import QUEUED, lease_name

JOB: Final = "turbocat_adapters.rq.jobs.run_execution"
"""What a worker runs: the job names the function, never a pickled callable."""
BEAT_SECONDS: Final = 5.0
"""Each live worker adds itself to ``<prefix>:workers`` (a sorted set scored by the time)
this often; one not seen for three beats counts as gone."""
MARKER_TTL: Final = 24 * 3600.0
"""Seconds a queued job's marker lasts past its due time (the reaper checks it long before)."""
TRACE_META: Final = "trace"
"""The job's ``meta`` key for the trace context it was queued in (W3C ``traceparent``)."""


def workers_key(prefix: str) -> str:
    return f"{prefix}:workers"


def queue_name(prefix: str) -> str:
    return f"{prefix}:executions"


def sync_redis(url: str) -> SyncRedis:
    """RQ's own (blocking) client for ``url``."""
    return SyncRedis.from_url(url, socket_connect_timeout=2.0, socket_timeout=10.0)


def rq_queue(connection: SyncRedis, prefix: str) -> Queue:
    return Queue(queue_name(prefix), connection=connection, serializer=JSONSerializer)


def rq_scheduler(container: Any) -> RQScheduler:
    """RQ's scheduler for the fleet's queue, to be driven by hand (``enqueue_scheduled_jobs``)
    by whichever worker holds the ``rq-scheduler`` claim."""
    settings = container.settings()
    connection = container.rq_connection()
    name = queue_name(settings.redis_prefix)
    scheduler = RQScheduler([name], connection=connection, serializer=JSONSerializer)
    scheduler.prepare_registries([name])
    return scheduler


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueHealth:
    """What RQ says of the queue (``/health/ready``, ``/analytics/system-health``)."""

    depth: int
    """Jobs waiting to start now."""
    scheduled: int
    """Jobs waiting for a time (parked WAITs, runs held back by ``concurrencyLimit``)."""
    started: int
    failed: int
    workers: int
    """Workers alive (each refreshes its beat every few seconds)."""


class RqQueue:
    """``ports.JobQueue``: enqueue an execution id for any worker of the fleet.

    Before the job exists, the execution's lease is marked ``queue:<job id>`` (unless a
    runner holds it), so the reaper can tell a queued execution from an abandoned one.
    Redis errors leave as ``ExternalServiceError`` (the execution stays PENDING in the
    database, and the reaper queues it again once Redis answers). With ``trace_carrier``
    (tracing on), each job's ``meta`` carries the trace context it was queued in, which the
    worker continues (``jobs.py``).
    """

    def __init__(
        self,
        connection: SyncRedis,
        prefix: str,
        claims: ports.Claims,
        *,
        trace_carrier: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self._connection = connection
        self._trace_carrier = trace_carrier
        self._queue = rq_queue(connection, prefix)
        self._claims = claims
        # Workers' beats (``WorkerRuntime``): unlike RQ's registry, they come back on their
        # own after a Redis restart.
        self._beats = workers_key(prefix)
        self._job_prefix = re.sub(r"[^A-Za-z0-9_-]", "_", prefix)  # RQ's job id alphabet

    @property
    def name(self) -> str:
        return self._queue.name

    async def enqueue_execution(
        self, execution_id: ExecutionId, *, at: datetime | None = None
    ) -> None:
        # Named after the deployment's prefix too, so its RQ keys can be found and cleared.
        job_id = f"{self._job_prefix}-{execution_id}-{uuid4().hex[:12]}"
        delay = 0.0 if at is None else max(0.0, (at - datetime.now(UTC)).total_seconds())
        await self._claims.claim(
            lease_name(execution_id), QUEUED + job_id, delay + MARKER_TTL, over=QUEUED
        )
        carrier = self._trace_carrier() if self._trace_carrier is not None else None
        await asyncio.to_thread(
            self._enqueue, str(execution_id), job_id, at if delay else None, carrier
        )

    def _enqueue(
        self, execution_id: str, job_id: str, at: datetime | None, trace: dict[str, str] | None
    ) -> None:
        options: dict[str, Any] = {
            "job_id": job_id,
            "meta": {TRACE_META: trace} if trace else None,
            "job_timeout": -1,  # the engine enforces run and step timeouts itself
            "result_ttl": 300,
            "failure_ttl": 24 * 3600,
            "description": f"execution {execution_id}",
        }
        try:
            if at is None:
                self._queue.enqueue_call(JOB, args=(execution_id,), **_call(options))
            else:
                self._queue.enqueue_at(at, JOB, execution_id, **options)
        except RedisError as error:
            raise ExternalServiceError(
                f"could not queue the execution: Redis failed: {error}", service="redis"
            ) from None

    async def job_alive(self, job_ids: list[str]) -> list[bool]:
        """Whether each job still waits or runs (its worker alive); for the reaper."""
        return await asyncio.to_thread(self._alive, job_ids)

    def _alive(self, job_ids: list[str]) -> list[bool]:
        from rq.job import Job, JobStatus

        jobs = Job.fetch_many(job_ids, connection=self._connection, serializer=JSONSerializer)
        alive = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.STARTED)
        return [job is not None and job.get_status(refresh=False) in alive for job in jobs]

    async def health(self) -> QueueHealth:
        return await asyncio.to_thread(self.figures)

    def figures(self) -> QueueHealth:
        """:meth:`health`, blocking (the metrics read it at scrape time, in a thread)."""
        queue, connection = self._queue, self._connection
        try:
            return QueueHealth(
                depth=queue.count,
                scheduled=ScheduledJobRegistry(queue=queue).count,  # type: ignore[no-untyped-call]
                started=StartedJobRegistry(queue=queue).count,
                failed=FailedJobRegistry(queue=queue).count,
                workers=int(connection.zcount(self._beats, time.time() - 3 * BEAT_SECONDS, "+inf")),
            )
        except RedisError as error:
            raise ExternalServiceError(f"Redis failed: {error}", service="redis") from None

    async def close(self) -> None:
        await asyncio.to_thread(self._connection.close)


def _call(options: dict[str, Any]) -> dict[str, Any]:
    """``enqueue_call`` names the timeout ``timeout``."""
    values = dict(options)
    values["timeout"] = values.pop("job_timeout")
    return values


def _conforms(queue: RqQueue) -> ports.JobQueue:
    """Never called: mypy checks here that the class matches its port."""
    return queue
