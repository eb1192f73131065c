"""The live stream of an execution: Server-Sent Events of its log lines and status changes.

The store is the source of truth: the stream reads lines after a cursor (their ``seq``) and
the execution's status, so it works whichever process runs the execution. This process's
``LogBroadcast`` only wakes it early; otherwise it looks again every ``POLL_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from litestar.response import ServerSentEventMessage

from turbocat_adapters.wire import to_wire
from turbocat_core.domain.access import Actor
from turbocat_core.domain.common import ExecutionId
from turbocat_core.domain.execution import Execution, ExecutionLog
from turbocat_core.engine.events import LogBroadcast
from turbocat_core.errors import TurbocatError
from turbocat_core.usecases.executions import Progress, WatchExecution

logger = logging.getLogger("turbocat.http")

POLL_SECONDS: Final = 0.5
"""How often a stream looks at the store when nothing in this process woke it."""
SETTLE_SECONDS: Final = 3.0
"""After a cancel, how long a stream waits for the runner to record its interrupted steps."""
KEEPALIVE_SECONDS: Final = 15.0
"""A comment line this often keeps idle connections (and proxies) open."""
BATCH: Final = 100

_encoder = msgspec.json.Encoder()


def status_data(execution: Execution) -> str:
    """The execution as JSON, without its pinned steps (``GET /executions/{id}`` has them)."""
    wire = to_wire(execution)
    wire.pop("steps", None)
    return _encoder.encode(wire).decode()


def log_event(line: ExecutionLog) -> ServerSentEventMessage:
    return ServerSentEventMessage(
        event="log", id=line.seq, data=_encoder.encode(to_wire(line)).decode()
    )


@dataclass(slots=True)
class ExecutionStream:
    """One client's stream; ``first`` is the look taken before answering (a 404 is an error
    response, not an empty stream)."""

    watch: WatchExecution
    broadcast: LogBroadcast
    actor: Actor
    execution_id: ExecutionId
    cursor: int
    first: Progress
    poll_seconds: float = POLL_SECONDS
    settle_seconds: float = SETTLE_SECONDS

    async def events(self) -> AsyncIterator[ServerSentEventMessage]:
        wake = asyncio.Event()
        execution_id = self.execution_id

        def on_line(line: ExecutionLog) -> None:
            if line.execution_id == execution_id:
                wake.set()

        unsubscribe = self.broadcast.subscribe(on_line)
        loop = asyncio.get_running_loop()
        progress: Progress | None = self.first
        announced: Any = None
        settle_until: float | None = None
        quiet_since = loop.time()
        try:
            while True:
                if progress is None:
                    wake.clear()  # before reading: a line committed meanwhile wakes us again
                    progress = await self.watch(
                        self.actor, execution_id, after_seq=self.cursor, limit=BATCH
                    )
                for line in progress.lines:
                    self.cursor = line.seq
                    yield log_event(line)
                    quiet_since = loop.time()
                execution = progress.execution
                finished = execution.status.finished
                if progress.more:
                    progress = None
                    continue
                if finished:
                    if progress.settled or (
                        settle_until is not None and loop.time() > settle_until
                    ):
                        yield ServerSentEventMessage(event="status", data=status_data(execution))
                        return
                    if settle_until is None:
                        settle_until = loop.time() + self.settle_seconds
                elif execution.status != announced:
                    announced = execution.status
                    yield ServerSentEventMessage(event="status", data=status_data(execution))
                    quiet_since = loop.time()
                if loop.time() - quiet_since >= KEEPALIVE_SECONDS:
                    yield ServerSentEventMessage(comment="keep-alive", data=None)
                    quiet_since = loop.time()
                progress = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.poll_seconds)
        except TurbocatError as error:  # the store went away mid-stream: say so, then stop
            logger.warning("execution stream %s stopped: %s", execution_id, error.message)
            yield ServerSentEventMessage(
                event="error", data=_encoder.encode({"message": "the stream stopped"}).decode()
            )
        finally:
            unsubscribe()


async def open_stream(
    watch: WatchExecution,
    broadcast: LogBroadcast,
    actor: Actor,
    execution_id: ExecutionId,
    cursor: int,
) -> ExecutionStream:
    """A client's stream after ``cursor``; the first look is taken now, so an execution the
    actor may not see is ``NotFound`` before any answer starts."""
    first = await watch(actor, execution_id, after_seq=cursor, limit=BATCH)
    return ExecutionStream(
        watch=watch,
        broadcast=broadcast,
        actor=actor,
        execution_id=execution_id,
        cursor=cursor,
        first=first,
    )
