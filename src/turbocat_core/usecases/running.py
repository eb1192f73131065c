"""What a queue does with one job: run an execution under its lease, then hand back the rest.

Every runner (the in-process queue, RQ workers) calls :class:`RunQueued` with an execution
id. It takes the execution's lease (``run:<id>``, a claim that the holder renews while the
run goes on), so of two jobs for one execution only one runs it; a holder that stops
renewing (its process died) loses the lease and another worker resumes the run from its
stored steps. After the engine returns, what is left goes back to the queue: a run parked
on a long WAIT at its due time, a run held back by its workflow's ``concurrencyLimit`` a
little later, and, when a limited run ends, the next waiting execution of that workflow.
A run whose processing raised (a storage error, a bug: not a step's failure) is queued
again a little later too; the engine bounds how often (``engine/processing.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from turbocat_core.domain.common import ExecutionId
from turbocat_core.engine.admission import next_waiting
from turbocat_core.engine.runner import Engine, RunResult
from turbocat_core.errors import NotFound
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.coordination import Claims, JobQueue

logger = logging.getLogger("turbocat.running")

QUEUED: Final = "queue:"
"""Holders starting with this are queue markers, not runners: a runner may take over."""
LEASE_TTL: Final = 10.0
"""Seconds a lease lasts unless renewed (renewed every quarter of it)."""
ADMISSION_RETRY: Final = 1.0
"""Seconds before a run held back by ``concurrencyLimit`` is tried again (runs ending
release the next one at once; this is the safety net)."""
FAILURE_RETRY: Final = 2.0
"""Seconds before a run whose processing failed (an error that is not a step's own) is
tried again; the engine ends it FAILED once that happened ``max_recoveries`` times."""


def lease_name(execution_id: ExecutionId) -> str:
    return f"run:{execution_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunQueued:
    """Run one queued execution in this process, holding its lease (see the module)."""

    engine: Engine
    queue: JobQueue
    claims: Claims
    clock: Clock
    holder: str
    """This process (a worker id): leases are held as ``<holder>:<run>``."""
    lease_ttl: float = LEASE_TTL

    async def __call__(self, execution_id: ExecutionId) -> RunResult | None:
        """The engine's result, or ``None`` when another process holds the execution or this
        one lost its lease while running (the run stopped without recording anything)."""
        # One holder per run, not per process: a second job for the same execution in
        # this process (a cancel's follow-up, a duplicate) must not share the lease.
        holder = f"{self.holder}:{self.engine.ids.new_id().hex[-12:]}"
        try:
            async with lease(self.claims, execution_id, holder, self.lease_ttl):
                result = await self.engine.run_once(execution_id)
        except LeaseHeld:
            return None
        except LeaseLost:
            logger.warning("lost the lease of execution %s: stopped running it", execution_id)
            return None
        except NotFound:
            raise
        except Exception:
            # Counted by the engine at the next processing (engine/processing.py), which
            # ends the run FAILED at the bound: so trying again cannot loop for ever.
            later = self.clock.now() + timedelta(seconds=FAILURE_RETRY)
            try:
                await self.queue.enqueue_execution(execution_id, at=later)
            except Exception:  # the reaper (a fleet) or the next start (one server) will
                logger.warning("could not queue execution %s again", execution_id)
            raise
        await self._follow_up(result)
        return result

    async def _follow_up(self, result: RunResult) -> None:
        execution = result.execution
        if not result.admitted:
            later = self.clock.now() + timedelta(seconds=ADMISSION_RETRY)
            await self.queue.enqueue_execution(execution.id, at=later)
        elif result.parked_until is not None:
            await self.queue.enqueue_execution(execution.id, at=result.parked_until)
        elif execution.status.finished and result.limit:
            for waiting in await next_waiting(self.engine.uow, execution, 1):
                await self.queue.enqueue_execution(waiting.id)


class LeaseHeld(Exception):
    """Another runner holds the execution's lease."""


class LeaseLost(Exception):
    """Another runner took the lease over while this one ran: the run was stopped."""


@contextlib.asynccontextmanager
async def lease(
    claims: Claims, execution_id: ExecutionId, holder: str, ttl: float = LEASE_TTL
) -> AsyncIterator[None]:
    """Hold ``run:<id>`` as ``holder`` while the block runs (queue markers give way).

    Renewed every quarter of ``ttl`` in real time (other processes judge it by the claims
    store's clock); taken again if it vanished with no other holder (the store restarted
    empty); if another holder has it, the block's task is cancelled and ``LeaseLost`` comes
    out of the block. ``LeaseHeld`` if another runner holds it at the start.
    """
    name = lease_name(execution_id)
    if not await claims.claim(name, holder, ttl, over=QUEUED):
        raise LeaseHeld(name)
    me = asyncio.current_task()
    assert me is not None
    lost = asyncio.Event()

    async def keep() -> None:
        while True:
            await asyncio.sleep(ttl / 4)
            try:
                kept = await claims.renew(name, holder, ttl) or await claims.claim(
                    name, holder, ttl
                )
            except Exception:  # the claims store is briefly unreachable: try again soon
                logger.warning("could not renew lease %s", name, exc_info=True)
                continue
            if not kept:
                lost.set()
                me.cancel()
                return

    keeper = asyncio.create_task(keep(), name=f"lease-{execution_id}")
    try:
        yield
    except asyncio.CancelledError:
        if lost.is_set() and me.uncancel() == 0:
            raise LeaseLost(name) from None
        raise
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        if not lost.is_set():
            await claims.release(name, holder)
