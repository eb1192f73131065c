"""Runs whose processing keeps failing: each failure counted with the execution, then FAILED.

A processing is one call of ``Engine.run_once`` on an unfinished execution. It begins by
recording its token (``ExecutionRepository.begin_processing``, committed before any step
runs); if the one before never ended, that one failed (its process died, or it raised for a
reason that is not a step's own, e.g. a write the store refused) and ``recoveries`` goes up.
It ends by clearing its token when it hands the run back unfinished (parked on a WAIT, held
back by ``concurrencyLimit``, cancelled because its process stops cleanly), or by recording
why it failed. Once ``recoveries`` reaches ``EngineSettings.max_recoveries``, the next
processing runs nothing: the run ends FAILED with the reason, so a run that kills or breaks
whatever processes it cannot loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Final

from turbocat_core.domain.common import ExecutionId
from turbocat_core.domain.execution import Execution, ExecutionStatus, StepRun, StepStatus
from turbocat_core.engine.deps import EngineDeps
from turbocat_core.engine.env import NO_ENV
from turbocat_core.engine.journal import CRASHED, Journal
from turbocat_core.engine.observer import NO_SCOPE, RunScope
from turbocat_core.engine.state import RunState
from turbocat_core.engine.steps import StepWork
from turbocat_core.errors import TurbocatError
from turbocat_core.ports.run_store import RunUnitOfWorkFactory

logger = logging.getLogger("turbocat.engine")

END_TIMEOUT: Final = 5.0
"""Seconds to record the end of a processing (a process stopping does not wait longer)."""


REASON_CHARS: Final = 500
"""At most this much of a failure's reason is kept."""


def failure_of(error: BaseException) -> str:
    """One line saying why a processing failed: a ``TurbocatError``'s own message (they
    never hold secrets or SQL), else the exception's type and the first line of its text."""
    if isinstance(error, TurbocatError):
        text = error.message
    else:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."


async def end(
    uow: RunUnitOfWorkFactory, execution_id: ExecutionId, token: str, failure: str | None = None
) -> None:
    """Record the end of processing ``token`` (see the module); never raises, since the run's
    own outcome (or the error being raised) matters more than this record."""
    try:
        async with asyncio.timeout(END_TIMEOUT):
            async with uow() as unit:
                await unit.executions.end_processing(execution_id, token, failure=failure)
                await unit.commit()
    except (Exception, asyncio.CancelledError):
        # Not recorded: a failure then reads as a crash, a hand-back as a failure (once).
        logger.warning("could not record the end of processing of %s", execution_id)


def message_of(execution: Execution) -> str:
    reason = execution.last_failure or CRASHED
    return (
        f"processing failed {execution.recoveries} times (last: {reason}); "
        "the run was stopped so it does not loop"
    )


async def give_up(
    deps: EngineDeps,
    execution: Execution,
    runs: Iterable[StepRun],
    scope: RunScope = NO_SCOPE,
) -> Execution:
    """End the run FAILED without running anything more (its processing failed too often).

    Its unfinished steps are recorded as stopped if the store takes them; the execution ends
    FAILED in any case, its own row alone if its log lines cannot be written either.
    """
    message = message_of(execution)
    logger.warning("execution %s: %s", execution.id, message)
    state = RunState(execution, runs)
    journal = Journal(deps, state, {}, scope=scope)
    work = StepWork(deps, journal, {}, execution.user_id, NO_ENV)
    why = f"interrupted: the run's processing failed {execution.recoveries} times"
    transitions = []
    for step in execution.steps:
        run = state.runs.get(step.step_key)
        if run is not None and run.status is StepStatus.RUNNING:
            transitions.append(work.interrupt(step.step_key, why))
        elif run is None or not run.status.finished:
            transitions.append(work.skip(step.step_key, why.replace("interrupted", "not run")))
    with contextlib.suppress(TurbocatError):
        await journal.commit(
            runs=[run for run, _ in transitions], logs=[line for _, line in transitions]
        )
    try:
        return await journal.finish(ExecutionStatus.FAILED, message, work.tally)
    except TurbocatError:
        current = state.execution
        final = current.moved_to(ExecutionStatus.FAILED, deps.clock.now(), error_message=message)
        async with deps.uow() as uow:
            ended = await uow.executions.update_if(final, current.status)
            await uow.commit()
        return final if ended else current
