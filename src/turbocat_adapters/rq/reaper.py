"""The reaper: queue again every unfinished execution that nobody runs or has queued.

One worker of the fleet reaps at a time (the ``reaper`` claim). Each round reads the
PENDING and RUNNING executions and their lease holders: an execution without one for
longer than the grace period (its worker died, Redis lost its keys, its enqueue failed),
or whose queued job is gone, is queued again. So no execution stays PENDING or RUNNING
for good, and a run whose worker died resumes elsewhere within about 20 seconds. A run
whose processing fails every time is not queued for ever either: the engine counts each
failed processing with the execution and ends it FAILED at the bound
(``turbocat_core.engine.processing``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from turbocat_adapters.metrics.prometheus import LEASE_TAKEOVERS
from turbocat_core.domain.common import ExecutionId, ListQuery
from turbocat_core.domain.execution import EXECUTION_QUERY, ExecutionStatus
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.coordination import Claims, JobQueue
from turbocat_core.ports.storage import UnitOfWorkFactory
from turbocat_core.usecases.running import QUEUED, lease_name

logger = logging.getLogger("turbocat.reaper")

GRACE: Final = 5.0
"""Seconds an execution may be seen without a holder before it is queued again (longer
than a lease renewal, so a live runner that Redis forgot re-takes its lease first)."""
LEADERSHIP_TTL: Final = 3.0
"""Seconds the reaping worker's claim lasts (renewed by each round, every second): when
it dies, another worker reaps within this."""
JOB_CHECK_EVERY: Final = 30.0
"""Seconds between checks that a queued execution's job still exists."""
_PAGE: Final = 100

JobsAlive = Callable[[list[str]], Awaitable[list[bool]]]


@dataclass(slots=True, kw_only=True)
class Reaper:
    uow: UnitOfWorkFactory
    claims: Claims
    queue: JobQueue
    clock: Clock
    holder: str
    jobs_alive: JobsAlive
    grace: float = GRACE
    leadership_ttl: float = LEADERSHIP_TTL
    unheld_since: dict[ExecutionId, float] = field(default_factory=dict)
    jobs_checked: dict[ExecutionId, float] = field(default_factory=dict)

    async def run_once(self) -> list[ExecutionId]:
        """One round, if this process may reap now; the executions it queued again."""
        if not await self.claims.claim("reaper", self.holder, self.leadership_ttl):
            self.unheld_since.clear()  # another process reaps: start afresh if it stops
            return []
        now = self.clock.monotonic()
        requeue: list[ExecutionId] = []
        seen: set[ExecutionId] = set()
        for ids in await self._unfinished():
            seen.update(ids)
            holders = await self.claims.holders([lease_name(i) for i in ids])
            queued: list[tuple[ExecutionId, str]] = []
            for execution_id, holder in zip(ids, holders, strict=True):
                if holder is None:
                    first = self.unheld_since.setdefault(execution_id, now)
                    if now - first >= self.grace:
                        requeue.append(execution_id)
                    continue
                if not holder.startswith(QUEUED):
                    self.unheld_since.pop(execution_id, None)
                    continue
                last = self.jobs_checked.get(execution_id)
                if last is None or now - last >= JOB_CHECK_EVERY:
                    queued.append((execution_id, holder.removeprefix(QUEUED)))
            if queued:
                alive = await self.jobs_alive([job for _, job in queued])
                for (execution_id, _), ok in zip(queued, alive, strict=True):
                    if ok:
                        self.jobs_checked[execution_id] = now
                        self.unheld_since.pop(execution_id, None)
                        continue
                    # Gone, or just handed over (RQ marks a job finished a moment before
                    # its run takes the lease): only after the grace period, seen again.
                    first = self.unheld_since.setdefault(execution_id, now)
                    if now - first >= self.grace:
                        requeue.append(execution_id)
        for gone in set(self.unheld_since) - seen:
            del self.unheld_since[gone]
        for gone in set(self.jobs_checked) - seen:
            del self.jobs_checked[gone]
        for execution_id in requeue:
            self.unheld_since.pop(execution_id, None)
            logger.warning("execution %s had nobody running it: queued again", execution_id)
            await self.queue.enqueue_execution(execution_id)
            LEASE_TAKEOVERS.inc()
        return requeue

    async def _unfinished(self) -> list[list[ExecutionId]]:
        batches: list[list[ExecutionId]] = []
        async with self.uow() as uow:
            for status in (ExecutionStatus.RUNNING, ExecutionStatus.PENDING):
                page = 1
                while True:
                    listed = await uow.executions.list(
                        ListQuery.build(
                            EXECUTION_QUERY,
                            page=page,
                            page_size=_PAGE,
                            sort_by="created_at",
                            sort_order="asc",
                            filters={"status": status},
                        )
                    )
                    if listed.items:
                        batches.append([execution.id for execution in listed.items])
                    if not listed.has_next:
                        break
                    page += 1
        return batches
