"""Retention: delete finished executions, their logs and step runs once they are old enough.

`turbocat prune` runs it, and workers run it once a day. It works in batches, each its own
short transaction, so it never holds locks for long and can be stopped at any point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from turbocat_core.errors import ValidationFailed
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.run_store import PruneCount, RunUnitOfWorkFactory

DEFAULT_BATCH_SIZE: Final = 500
MAX_DAYS: Final = 36_500


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneReport:
    """What a prune deleted so far: executions ended before ``cutoff``, with their log lines
    and step runs, in ``batches`` transactions."""

    cutoff: datetime
    executions: int = 0
    logs: int = 0
    step_runs: int = 0
    batches: int = 0

    def plus(self, batch: PruneCount) -> PruneReport:
        return replace(
            self,
            executions=self.executions + batch.executions,
            logs=self.logs + batch.logs,
            step_runs=self.step_runs + batch.step_runs,
            batches=self.batches + 1,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneExecutions:
    """Delete the executions that finished more than ``days`` days ago (see
    ``ExecutionRepository.prune_finished`` for which ones, and what happens to the rows that
    refer to them), ``batch_size`` executions per committed unit of work, until a batch
    deletes fewer than ``batch_size``. ``on_batch`` hears the running totals after each
    batch. ``ValidationFailed`` for ``days`` outside 1-36500 or a ``batch_size`` below 1.
    """

    uow: RunUnitOfWorkFactory
    clock: Clock

    async def __call__(
        self,
        *,
        days: int,
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_batch: Callable[[PruneReport], None] | None = None,
    ) -> PruneReport:
        if not 1 <= days <= MAX_DAYS:
            raise ValidationFailed.field("days", f"must be between 1 and {MAX_DAYS:,}")
        if batch_size < 1:
            raise ValidationFailed.field("batchSize", "must be 1 or more")
        report = PruneReport(cutoff=self.clock.now() - timedelta(days=days))
        while True:
            async with self.uow() as uow:
                batch = await uow.executions.prune_finished(report.cutoff, batch_size)
                await uow.commit()
            report = report.plus(batch)
            if on_batch is not None:
                on_batch(report)
            if batch.executions < batch_size:
                return report
